package mqtttest_test

import (
	"net"
	"testing"

	"huiyan/firmware-contracts/mqtttest"
)

func TestStartMosquitto(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	c, err := net.Dial("tcp", m.Addr)
	if err != nil {
		t.Fatalf("dial %s: %v\n%s", m.Addr, err, m.Log())
	}
	c.Close()
}

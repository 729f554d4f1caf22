package firmware_test

import (
	"strings"
	"testing"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

func TestParseTopic(t *testing.T) {
	long := strings.Repeat("d", firmware.MaxDeviceIDLen)
	for _, tt := range []struct {
		topic string
		want  firmware.Topic // zero: bad_topic
	}{
		{"huiyan/v1/B001/arrival/counter/sc-01", firmware.Topic{Kind: firmware.TopicArrival, Branch: "B001", Channel: huiyan.ChannelCounter, Device: "sc-01"}},
		{"huiyan/v1/B001/arrival/ecode/ec_01", firmware.Topic{Kind: firmware.TopicArrival, Branch: "B001", Channel: huiyan.ChannelECode, Device: "ec_01"}},
		{"huiyan/v1/0571-0001/arrival/wheel/" + long, firmware.Topic{Kind: firmware.TopicArrival, Branch: "0571-0001", Channel: huiyan.ChannelWheel, Device: long}},
		{"huiyan/v1/B001/device/sc-01/status", firmware.Topic{Kind: firmware.TopicStatus, Branch: "B001", Device: "sc-01"}},
		{"huiyan/v1/B001/reject/sc-01", firmware.Topic{Kind: firmware.TopicReject, Branch: "B001", Device: "sc-01"}},
		{"huiyan/v1/B001/wheel/wh-01/result", firmware.Topic{Kind: firmware.TopicWheelResult, Branch: "B001", Device: "wh-01"}},
		{"", firmware.Topic{}},
		{"huiyan", firmware.Topic{}},
		{"huiyan/v1", firmware.Topic{}},
		{"huiyan/v1/", firmware.Topic{}},
		{"huiyan/v2/B001/arrival/counter/sc-01", firmware.Topic{}},
		{"Huiyan/v1/B001/arrival/counter/sc-01", firmware.Topic{}},
		{"/huiyan/v1/B001/arrival/counter/sc-01", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter/sc-01/", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter/sc-01/x", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter/", firmware.Topic{}},
		{"huiyan/v1/B001/arrival//sc-01", firmware.Topic{}},
		{"huiyan/v1//arrival/counter/sc-01", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/kiosk/sc-01", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/Counter/sc-01", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/+/+", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter/#", firmware.Topic{}},
		{"huiyan/v1/+/arrival/counter/sc-01", firmware.Topic{}},
		{"huiyan/v1/#", firmware.Topic{}},
		{"huiyan/v1/B_001/arrival/counter/sc-01", firmware.Topic{}},
		{"huiyan/v1/" + strings.Repeat("b", 33) + "/arrival/counter/sc-01", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter/" + long + "d", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter/sc.01", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter/sc 01", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter/设备", firmware.Topic{}},
		{"huiyan/v1/B001/arrival/counter/sc-01\x00", firmware.Topic{}},
		{"huiyan/v1/B001/device/sc-01", firmware.Topic{}},
		{"huiyan/v1/B001/device/sc-01/state", firmware.Topic{}},
		{"huiyan/v1/B001/device/sc-01/status/x", firmware.Topic{}},
		{"huiyan/v1/B001/reject", firmware.Topic{}},
		{"huiyan/v1/B001/reject/sc-01/x", firmware.Topic{}},
		{"huiyan/v1/B001/wheel/wh-01", firmware.Topic{}},
		{"huiyan/v1/B001/wheel/wh-01/results", firmware.Topic{}},
		{"huiyan/v1/B001/visit/v-1", firmware.Topic{}},
	} {
		got, err := firmware.ParseTopic(tt.topic)
		if tt.want == (firmware.Topic{}) {
			if code := huiyan.ErrorCode(err); code != firmware.EBadTopic {
				t.Errorf("ParseTopic(%q) = %+v, code=%q, want %q", tt.topic, got, code, firmware.EBadTopic)
			}
			if got != (firmware.Topic{}) {
				t.Errorf("ParseTopic(%q) = %+v with an error, want the zero Topic", tt.topic, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTopic(%q): %v", tt.topic, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseTopic(%q) = %+v, want %+v", tt.topic, got, tt.want)
		}
		if s := got.String(); s != tt.topic {
			t.Errorf("ParseTopic(%q).String() = %q", tt.topic, s)
		}
	}
}

func TestTopicBuilders(t *testing.T) {
	for _, tt := range []struct {
		name  string
		build func() (string, error)
		want  string // "" = bad_topic
	}{
		{"ArrivalOK", func() (string, error) { return firmware.ArrivalTopic("B001", huiyan.ChannelCounter, "sc-01") }, "huiyan/v1/B001/arrival/counter/sc-01"},
		{"StatusOK", func() (string, error) { return firmware.StatusTopic("B001", "sc-01") }, "huiyan/v1/B001/device/sc-01/status"},
		{"RejectOK", func() (string, error) { return firmware.RejectTopic("B001", "sc-01") }, "huiyan/v1/B001/reject/sc-01"},
		{"WheelResultOK", func() (string, error) { return firmware.WheelResultTopic("B001", "wh-01") }, "huiyan/v1/B001/wheel/wh-01/result"},
		{"ArrivalFilterOK", func() (string, error) { return firmware.ArrivalFilter("B001") }, "huiyan/v1/B001/arrival/+/+"},
		{"StatusFilterOK", func() (string, error) { return firmware.StatusFilter("B001") }, "huiyan/v1/B001/device/+/status"},
		{"ErrArrivalChannel", func() (string, error) { return firmware.ArrivalTopic("B001", "kiosk", "sc-01") }, ""},
		{"ErrArrivalNoChannel", func() (string, error) { return firmware.ArrivalTopic("B001", "", "sc-01") }, ""},
		{"ErrStatusWildcard", func() (string, error) { return firmware.StatusTopic("B001", "+") }, ""},
		{"ErrRejectBranch", func() (string, error) { return firmware.RejectTopic("B/001", "sc-01") }, ""},
		{"ErrWheelDevice", func() (string, error) { return firmware.WheelResultTopic("B001", "") }, ""},
		{"ErrArrivalFilterWildcard", func() (string, error) { return firmware.ArrivalFilter("#") }, ""},
		{"ErrStatusFilterEmpty", func() (string, error) { return firmware.StatusFilter("") }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.build()
			if tt.want == "" {
				if code := huiyan.ErrorCode(err); code != firmware.EBadTopic || got != "" {
					t.Fatalf("got %q, code=%q, want %q", got, code, firmware.EBadTopic)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestTopicValidate(t *testing.T) {
	bad := []firmware.Topic{
		{},
		{Kind: "visit", Branch: "B001", Device: "sc-01"},
		{Kind: firmware.TopicStatus, Branch: "B001", Channel: huiyan.ChannelCounter, Device: "sc-01"},
		{Kind: firmware.TopicArrival, Branch: "B001", Device: "sc-01"},
	}
	for _, tp := range bad {
		if code := huiyan.ErrorCode(tp.Validate()); code != firmware.EBadTopic {
			t.Errorf("%+v.Validate(): code=%q, want %q", tp, code, firmware.EBadTopic)
		}
	}
}

func TestValidDeviceID(t *testing.T) {
	for s, want := range map[string]bool{
		"sc-01": true, "SC_01": true, "0": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "sc/01": false, "sc+": false, "#": false,
		"sc.01": false, "sc 01": false, "设备": false,
	} {
		if got := firmware.ValidDeviceID(s); got != want {
			t.Errorf("ValidDeviceID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestMayPublish(t *testing.T) {
	for _, tt := range []struct {
		topic string
		want  bool
	}{
		{"huiyan/v1/B001/arrival/counter/sc-01", true},
		{"huiyan/v1/B001/arrival/wheel/sc-01", true},
		{"huiyan/v1/B001/device/sc-01/status", true},
		{"huiyan/v1/B001/arrival/counter/sc-02", false},
		{"huiyan/v1/B002/arrival/counter/sc-01", false},
		{"huiyan/v1/B001/device/sc-02/status", false},
		{"huiyan/v1/B001/reject/sc-01", false},
		{"huiyan/v1/B001/wheel/sc-01/result", false},
		{"huiyan/v1/B001/arrival/kiosk/sc-01", false},
		{"huiyan/v1/B001/arrival/counter/+", false},
		{"other/topic", false},
	} {
		if got := firmware.MayPublish("B001", "sc-01", tt.topic); got != tt.want {
			t.Errorf("MayPublish(B001, sc-01, %q) = %v, want %v", tt.topic, got, tt.want)
		}
	}
}

func TestMaySubscribe(t *testing.T) {
	for _, tt := range []struct {
		filter string
		want   bool
	}{
		{"huiyan/v1/B001/reject/wh-01", true},
		{"huiyan/v1/B001/wheel/wh-01/result", true},
		{"huiyan/v1/B001/reject/+", false},
		{"huiyan/v1/B001/#", false},
		{"huiyan/v1/B001/reject/wh-02", false},
		{"huiyan/v1/B002/wheel/wh-01/result", false},
		{"huiyan/v1/B001/arrival/wheel/wh-01", false},
		{"huiyan/v1/B001/device/wh-01/status", false},
	} {
		if got := firmware.MaySubscribe("B001", "wh-01", tt.filter); got != tt.want {
			t.Errorf("MaySubscribe(B001, wh-01, %q) = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

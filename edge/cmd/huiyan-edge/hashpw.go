package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"huiyan"
)

// runHashPassword reads a device password from stdin and prints the hash to
// put in the config (mqtt.devices[].password_hash), so that the config file
// never holds a usable secret.
func runHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "Usage: huiyan-edge hash-password < password-file")
		return usageError{errors.New("hash-password reads the password from standard input and takes no arguments")}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 12 {
		return usageError{errors.New("password must be at least 12 characters")}
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	h, err := huiyan.HashPIN(pw, salt, huiyan.PINIterations)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, h)
	return nil
}

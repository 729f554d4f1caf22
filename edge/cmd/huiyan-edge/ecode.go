package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"huiyan"
	"huiyan/edge/ecode"
	pad "huiyan/pad-api"
)

// ecodeKeyFile is where the edge keeps the e-code key it made itself.
const ecodeKeyFile = "ecode.key"

// openECode makes the e-code issuer from the config. Without ecode_key the
// key is {data_dir}/ecode.key, made at the first start (the demo needs no
// setup); a configured key file must exist, since the mobile-banking
// backend holds the same key. The log names the file, never the key.
func (m *Main) openECode(log *slog.Logger) (*ecode.Issuer, error) {
	c := m.Config
	path, made := c.ECodeKey, false
	var key ecode.Key
	var err error
	if path == "" {
		path = filepath.Join(c.DataDir, ecodeKeyFile)
		key, made, err = loadOrMakeKey(path)
	} else {
		key, err = loadKey(path)
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("ecode_key: %w", err)}
	}
	if made {
		log.Warn("made a new e-code key: give this file to the mobile-banking backend so that it can verify the branch's codes",
			"file", path)
	}
	is, err := ecode.NewIssuer(ecode.Config{Branch: c.Branch, Key: key, Period: c.ECodePeriod,
		Displays: c.ECodeDisplays, URLPrefix: c.ECodeURL, Legacy: c.ECodeLegacy})
	if err != nil {
		return nil, usageError{err}
	}
	if c.ECodeLegacy {
		log.Warn("ecode_legacy is on: scans of static codes count as the branch code, from anywhere")
	}
	return is, nil
}

func loadKey(path string) (ecode.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ecode.Key{}, err
	}
	k, err := ecode.ParseKey(b)
	if err != nil {
		return ecode.Key{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// loadOrMakeKey reads the key at path or, when there is none, makes one
// and writes it (mode 0600, through a synced temporary file and a rename,
// so that a crash leaves either no file or the whole key).
func loadOrMakeKey(path string) (ecode.Key, bool, error) {
	k, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	if k, err = ecode.NewKey(); err != nil {
		return ecode.Key{}, false, err
	}
	text, _ := k.MarshalText()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ecode.key-*")
	if err != nil {
		return ecode.Key{}, false, err
	}
	defer os.Remove(tmp.Name()) // after the rename: a no-op
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return ecode.Key{}, false, err
	}
	if _, err := tmp.Write(append(text, '\n')); err != nil {
		tmp.Close()
		return ecode.Key{}, false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return ecode.Key{}, false, err
	}
	if err := tmp.Close(); err != nil {
		return ecode.Key{}, false, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return ecode.Key{}, false, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // the rename itself survives a power cut
		d.Close()
	}
	return k, true, nil
}

// mountECode serves the e-code displays (/ecode/{display}) and the PAD's
// staff code (/pad/mycode) on mux. The staff code needs the PAD session.
func (m *Main) mountECode(mux *http.ServeMux, log *slog.Logger) {
	h := ecode.NewHandler(ecode.HandlerConfig{Issuer: m.ECode, Logger: log,
		StaffOf: func(r *http.Request) (string, error) {
			ck, err := r.Cookie(pad.CookieName)
			if err != nil || ck.Value == "" || len(ck.Value) > 512 {
				return "", huiyan.Errorf(huiyan.EUnauthorized, "no session")
			}
			s, err := m.Node.Session(r.Context(), ck.Value)
			if err != nil {
				return "", err
			}
			return s.Staff.ID, nil
		}})
	mux.Handle("GET /ecode/", h)
	mux.Handle("GET /pad/mycode", h)
	mux.Handle("GET /pad/mycode/qr.png", h)
}

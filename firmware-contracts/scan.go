package firmware

import (
	"bytes"
	"encoding/json"
	"strings"

	"huiyan"
)

// A scanner for payloads that checkJSON has passed. Reading them token by
// token with encoding/json's Decoder was Decode's largest cost (issue 8:
// Decoder.Token alone ~45 %, and ~200 allocations per arrival); json.Valid
// has already proven the syntax, so finding where a string, object or
// array ends is all that is left, and these few loops do it without
// allocating and without recursion. They must never see bytes that
// json.Valid did not accept: on such bytes they may index past the end.

// eachMember calls fn for the members of obj, a valid JSON object that may
// have white space around it, in order, with the name decoded and the value
// raw, and stops at the first error fn returns.
func eachMember(obj []byte, fn func(i int, name, val []byte) error) error {
	p := skipSpace(obj, skipSpace(obj, 0)+1) // past '{'
	for i := 0; obj[p] != '}'; i++ {
		end := skipString(obj, p)
		name, _ := str(obj[p:end])
		p = skipSpace(obj, skipSpace(obj, end)+1) // past ':'
		end = skipValue(obj, p)
		if err := fn(i, name, obj[p:end]); err != nil {
			return err
		}
		if p = skipSpace(obj, end); obj[p] == ',' {
			p = skipSpace(obj, p+1)
		}
	}
	return nil
}

// eachElement calls fn for the elements of arr, a valid JSON array, raw
// and in order, and stops at the first error fn returns.
func eachElement(arr []byte, fn func(i int, val []byte) error) error {
	p := skipSpace(arr, skipSpace(arr, 0)+1) // past '['
	for i := 0; arr[p] != ']'; i++ {
		end := skipValue(arr, p)
		if err := fn(i, arr[p:end]); err != nil {
			return err
		}
		if p = skipSpace(arr, end); arr[p] == ',' {
			p = skipSpace(arr, p+1)
		}
	}
	return nil
}

// skipSpace returns the index of the first byte from p on that is not JSON
// white space, or len(b).
func skipSpace(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
		p++
	}
	return p
}

// skipString returns the index just past the string that starts at b[p].
func skipString(b []byte, p int) int {
	for p++; ; p++ {
		switch b[p] {
		case '"':
			return p + 1
		case '\\':
			p++ // the escaped byte; the hex digits of \uXXXX need nothing
		}
	}
}

// skipValue returns the index just past the value that starts at b[p].
func skipValue(b []byte, p int) int {
	switch b[p] {
	case '"':
		return skipString(b, p)
	case '{', '[':
		// Strings are skipped whole, so the brackets counted are the
		// document's own; valid JSON pairs them.
		depth := 0
		for {
			switch b[p] {
			case '"':
				p = skipString(b, p)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return p + 1
				}
			}
			p++
		}
	}
	// A number, true, false or null: it ends where the next token or white
	// space begins, or with the document.
	for p < len(b) && strings.IndexByte(",}] \t\n\r", b[p]) < 0 {
		p++
	}
	return p
}

// str returns the characters of val when it is a JSON string: the bytes
// between the quotes when there is no escape, the common case, else a
// decoded copy. ok is false when val is missing (nil) or not a string.
// Callers copy what they keep with string(s), so a result never holds on to
// the payload.
func str(val []byte) (s []byte, ok bool) {
	if len(val) == 0 || val[0] != '"' {
		return nil, false
	}
	s = val[1 : len(val)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, true
	}
	// Escapes are rare on this wire; encoding/json decodes them exactly as
	// before (surrogate pairs, U+FFFD for a lone surrogate).
	var d string
	if err := json.Unmarshal(val, &d); err != nil {
		return nil, false
	}
	return []byte(d), true
}

// fieldIndex returns the index of name in fields, -1 when it is not there.
func fieldIndex(fields []string, name []byte) int {
	for i, f := range fields {
		if string(name) == f {
			return i
		}
	}
	return -1
}

// channelOf returns the channel s names, without copying s for a known
// channel; Valid refuses the result for any other s.
func channelOf(s []byte) huiyan.Channel {
	for _, c := range huiyan.Channels {
		if string(s) == string(c) {
			return c
		}
	}
	return huiyan.Channel(s)
}

// kindOf returns the ident kind s names, as channelOf does channels.
func kindOf(s []byte) huiyan.IdentKind {
	for _, k := range huiyan.IdentKinds {
		if string(s) == string(k) {
			return k
		}
	}
	return huiyan.IdentKind(s)
}

// charset is a set of bytes: the class of a pattern ^[…]{min,max}$ whose
// class is ASCII, so that its characters are bytes. A lookup per byte
// costs a few nanoseconds where a regexp costs ~0.4 µs per token.
type charset [256]bool

func newCharset(chars string) *charset {
	var s charset
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = true
	}
	return &s
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// The classes of the patterns of payload.go.
var (
	idChars      = newCharset(alnum + "._:-") // idPattern, spinPattern
	deviceChars  = newCharset(alnum + "_-")   // devicePattern
	keyChars     = deviceChars                // keyPattern
	tokenChars   = newCharset("0123456789abcdef")
	attrKeyChars = newCharset(alnum + "_.-") // attrKeyPattern
)

// allIn reports whether s matches ^[set]{min,max}$.
func allIn[S ~string | ~[]byte](s S, set *charset, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !set[s[i]] {
			return false
		}
	}
	return true
}

// validTimestamp reports whether s matches tsPattern:
// 2006-01-02T15:04:05, an optional fraction of 1 to 9 digits, and Z or an
// offset ±hh:mm, with hours up to 23 and minutes and seconds up to 59.
func validTimestamp[S ~string | ~[]byte](s S) bool {
	const short = len("2006-01-02T15:04:05Z")
	if len(s) < short ||
		!digits(s[0:4]) || s[4] != '-' || !digits(s[5:7]) || s[7] != '-' || !digits(s[8:10]) || s[10] != 'T' ||
		!hour(s[11:13]) || s[13] != ':' || !sixty(s[14:16]) || s[16] != ':' || !sixty(s[17:19]) {
		return false
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return false
		}
		rest = rest[n:]
	}
	if len(rest) == 1 {
		return rest[0] == 'Z'
	}
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && hour(rest[1:3]) && rest[3] == ':' && sixty(rest[4:6])
}

func digits[S ~string | ~[]byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// hour reports whether the two bytes of s are 00 to 23.
func hour[S ~string | ~[]byte](s S) bool {
	return digits(s) && (s[0] < '2' || s[0] == '2' && s[1] <= '3')
}

// sixty reports whether the two bytes of s are 00 to 59.
func sixty[S ~string | ~[]byte](s S) bool {
	return digits(s) && s[0] <= '5'
}

package ecodetest_test

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"testing"

	"huiyan/edge/ecode"
	"huiyan/edge/ecode/ecodetest"
)

func TestDecode(t *testing.T) {
	const (
		// ZXing's detector misses this one as the PAD draws it (found
		// among 400 staff codes; zbarimg reads it). Should a later gozxing
		// find it, "missed without area" fails: Decode's second read can
		// then go.
		missed = "HY1.s.B001.account-B001.10.179546174.R8WKRQEcMaAap8N-YFMLXA"
		found  = "HY1.s.B001.account-B001.10.179546200.LRFKDWzCd7XB4h4w_2zfLw"
	)
	tests := []struct {
		name    string
		content string
		area    bool // pass the code's area
		cover   bool // paint over the middle of the code
		wantErr bool
	}{
		{name: "found without area", content: found},
		{name: "found with area", content: found, area: true},
		{name: "missed without area", content: missed, wantErr: true},
		{name: "missed, read in its area", content: missed, area: true},
		{name: "covered", content: found, area: true, cover: true, wantErr: true},
		{name: "covered missed", content: missed, area: true, cover: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, code := screen(t, tt.content)
			if tt.cover {
				c := code.Inset(code.Dx() / 3)
				draw.Draw(img, c, &image.Uniform{color.Black}, image.Point{}, draw.Src)
			}
			var area image.Rectangle
			if tt.area {
				area = code
			}
			got, err := ecodetest.Decode(img, area)
			switch {
			case tt.wantErr && err == nil:
				t.Fatalf("decoded %q, want an error", got)
			case !tt.wantErr && err != nil:
				t.Fatal(err)
			case !tt.wantErr && got != tt.content:
				t.Fatalf("decoded %q, want %q", got, tt.content)
			}
		})
	}
}

// TestDecodePNG reads the edge's own PNG of a code ZXing's detector
// misses, its whole image as the area.
func TestDecodePNG(t *testing.T) {
	b, err := ecode.QRPNG("HY1.s.B001.account-B001.10.179546199.HuMF9kIM7NY6jKydyoRpOQ")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ecodetest.DecodePNG(b); err != nil || got != "HY1.s.B001.account-B001.10.179546199.HuMF9kIM7NY6jKydyoRpOQ" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := ecodetest.DecodePNG(b[:len(b)/2]); err == nil {
		t.Fatal("a truncated PNG decoded")
	}
}

// screen draws the edge's QR PNG of content scaled up without smoothing
// (as the PAD page does: 296 → 420 px) on a white card over a grey
// screen, and returns the screen and where the code is.
func screen(t *testing.T, content string) (*image.RGBA, image.Rectangle) {
	t.Helper()
	b, err := ecode.QRPNG(content)
	if err != nil {
		t.Fatal(err)
	}
	src, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{0x80, 0x84, 0x8a, 0xff}}, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(232, 58, 792, 710), &image.Uniform{color.White}, image.Point{}, draw.Src)
	const size = 420
	code := image.Rect(302, 126, 302+size, 126+size)
	sw := src.Bounds().Dx()
	for y := range size {
		for x := range size {
			img.Set(code.Min.X+x, code.Min.Y+y, src.At((2*x+1)*sw/(2*size), (2*y+1)*sw/(2*size)))
		}
	}
	return img, code
}

// Package ecodetest reads the QR codes of e-code pages and PNGs in tests,
// with a real decoder: ZXing's Go port.
package ecodetest

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// DecodePNG reads a PNG of the code alone, as the edge serves it: the
// whole image is the code's area (see Decode).
func DecodePNG(b []byte) (string, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("png: %w", err)
	}
	return Decode(img, img.Bounds())
}

// DecodeScreenshot reads the QR code in a PNG screenshot, area being
// where the page drew it (see Decode).
func DecodeScreenshot(b []byte, area image.Rectangle) (string, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("png: %w", err)
	}
	return Decode(img, area)
}

// Decode reads the QR code in img. It first searches the whole image, as
// a phone's camera would. ZXing's detector misses about 2 % of valid
// codes wherever they are drawn (it misjudges the symbol's size from
// some data patterns, even on the clean PNG; zbar reads every one of
// them), so when that search fails and area is not empty, Decode reads
// area, the part of img where the code was drawn, as a bare symbol: it
// still has to decode pixel for pixel, so a blurred, covered or wrong
// code fails there too.
func Decode(img image.Image, area image.Rectangle) (string, error) {
	text, err := decode(img, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err == nil || area.Empty() {
		return text, err
	}
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		return "", fmt.Errorf("%w (and a %T cannot be cut to the code's area)", err, img)
	}
	text, err2 := decode(sub.SubImage(area), map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err2 != nil {
		return "", errors.Join(err, fmt.Errorf("the code's area %v: %w", area, err2))
	}
	return text, nil
}

func decode(img image.Image, hints map[gozxing.DecodeHintType]any) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	return res.GetText(), nil
}

// Command genwebp writes the PNG sources of the WebP test files; gen.sh
// turns them into WebP with libwebp's tools (Debian package webp). It is
// under testdata, so go build and go test ignore it.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: genwebp DIR")
	}
	dir := os.Args[1]
	write(filepath.Join(dir, "photo.png"), picture(800, 600, false))
	write(filepath.Join(dir, "alpha.png"), picture(64, 48, true))
	write(filepath.Join(dir, "frame2.png"), picture(64, 48, false))
}

// picture is a gradient with a red block in the top-left corner; with
// alpha, its right half is half transparent.
func picture(w, h int, alpha bool) image.Image {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 128, A: 255}
			if x < w/4 && y < h/4 {
				c = color.NRGBA{R: 255, A: 255}
			}
			if alpha && x >= w/2 {
				c.A = 128
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func write(name string, m image.Image) {
	f, err := os.Create(name)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, m); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

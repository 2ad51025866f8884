// Package web holds the built web client (Vite + React, sources in this
// directory) so the server binary can serve it.
//
// The client is built into dist/ by `make web`; Go embeds whatever is
// there at build time. dist/.gitkeep is committed so the package builds
// without Node.js: the server then answers / with a page saying the
// client was not built.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built client: index.html at its root and the hashed
// bundles under assets/. It is read-only and safe for concurrent use; it
// holds only .gitkeep when the client was not built.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil { // only for an invalid directory name, which "dist" is not
		panic("web: " + err.Error())
	}
	return sub
}

// Package docs holds the project's documents that the binary serves:
// openapi.yaml, the OpenAPI 3.1 description of the HTTP API, served at
// /openapi.yaml and validated against real answers by the httpapi tests.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml, embedded so that the served description is
// always the one the binary was built and tested with.
//
//go:embed openapi.yaml
var OpenAPI []byte

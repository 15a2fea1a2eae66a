// Package api is the agent's gRPC API, generated from api/vigil/v1/vigil.proto
// by make generate (protoc from Debian, the Go plugins from go.mod's tools);
// the agent serves it and the vigil commands call it.
package api

//go:generate go build -o ../../bin/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
//go:generate protoc -I ../../api --plugin=../../bin/protoc-gen-go --plugin=../../bin/protoc-gen-go-grpc --go_out=. --go_opt=module=github.com/vigil-sec/vigil/pkg/api --go-grpc_out=. --go-grpc_opt=module=github.com/vigil-sec/vigil/pkg/api vigil/v1/vigil.proto

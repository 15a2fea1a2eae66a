package server

import (
	"context"
	"crypto/x509"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Role is what a client may do.
type Role int

// Roles, each allowed what the one before is.
const (
	// RoleReadOnly streams events, lists policies and reads the status.
	RoleReadOnly Role = iota
	// RoleOperator also adds, removes, enables, disables and switches the
	// mode of policies that only observe.
	RoleOperator
	// RoleAdmin may do anything, also to policies that signal, kill or
	// override (deny).
	RoleAdmin
)

func (r Role) String() string {
	return [...]string{"readonly", "operator", "admin"}[r]
}

// Certificate organizations that give a TCP client its role; any other
// verified client is read-only.
const (
	OrgAdmin    = "vigil:admin"
	OrgOperator = "vigil:operator"
)

// certRole reads the role from the verified client certificate.
func certRole(ctx context.Context) Role {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return RoleReadOnly
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 {
		return RoleReadOnly
	}
	return roleOfCert(info.State.VerifiedChains[0][0])
}

func roleOfCert(c *x509.Certificate) Role {
	switch {
	case slices.Contains(c.Subject.Organization, OrgAdmin):
		return RoleAdmin
	case slices.Contains(c.Subject.Organization, OrgOperator):
		return RoleOperator
	}
	return RoleReadOnly
}

// allow refuses the call unless its role is at least need.
func allow(ctx context.Context, need Role, what string) error {
	if r := roleIn(ctx); r < need {
		return status.Errorf(codes.PermissionDenied, "%s needs the %s role; this client is %s", what, need, r)
	}
	return nil
}

// changeNeeds is the role a change to a policy needs: admin for one that
// can signal, kill or deny, operator otherwise.
func changeNeeds(enforces bool) Role {
	if enforces {
		return RoleAdmin
	}
	return RoleOperator
}

package gate

import (
	"github.com/hearthiot/hearth/store"
)

// Channels of audit entries.
const (
	AuditChannelAPI  = "api"
	AuditChannelPage = "page"
)

// AuditAction is one request to record: what was asked (method and path,
// never a body or query, which may hold secrets), how it was answered and
// from where.
type AuditAction struct {
	Channel string
	Action  string // "POST /api/v1/devices"
	Status  int
	Remote  string
}

// RecordAudit writes what an operator did to the audit log, refused or
// not: an attempt is worth knowing too. Customers' actions are not
// recorded here (their changes of settings are in the shadow history). A
// failure is logged; the action itself stands.
func (s Scope) RecordAudit(a AuditAction) {
	if !s.p.Valid() || !s.p.Operator() {
		return
	}
	e := store.AuditEntry{
		Time:    s.g.now(),
		Actor:   s.p.ActorName(),
		Channel: a.Channel,
		Action:  a.Action,
		Status:  a.Status,
		Remote:  a.Remote,
	}
	if err := s.g.store.AppendAudit(e); err != nil {
		s.g.logger.Error("cannot write audit entry", "actor", e.Actor, "action", e.Action, "error", err)
	}
}

// Audit returns the audit log, newest first; operators only.
func (s Scope) Audit(q store.AuditQuery) ([]store.AuditEntry, string, error) {
	if err := s.operatorOnly("the audit log"); err != nil {
		return nil, "", err
	}
	return s.g.store.Audit(q)
}

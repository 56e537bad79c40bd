package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/auth"
)

// maxAlerts bounds the break-glass alerts kept for the administrators.
const maxAlerts = 200

// alertView is one break-glass alert as administrators see it: who, which
// role, why, when; no PHI (the reason is the user's own words about the
// situation, shown to administrators as the review requires).
type alertView struct {
	Time      time.Time `json:"time"`
	Started   bool      `json:"started"`
	UserID    string    `json:"user_id"`
	Role      string    `json:"role"`
	Reason    string    `json:"reason"`
	Until     time.Time `json:"until"`
	EndReason string    `json:"end_reason,omitempty"`
}

// alertList keeps the newest break-glass alerts (auth.Config.OnEmergency)
// for the administrators' alert page, newest first, and logs each one as a
// warning so that the operator's log monitoring sees it too. It lives in
// the process: each replica lists the alerts of the elevations it served,
// and the persisted break-glass report (GET /api/emergency/report) holds
// them all.
type alertList struct {
	mu  sync.Mutex
	app *app
	a   []alertView
}

func (l *alertList) add(ctx context.Context, x auth.EmergencyAlert) {
	v := alertView{Time: x.Access.StartedAt, Started: x.Started, UserID: x.Access.UserID, Role: x.Access.Role,
		Reason: x.Access.Reason, Until: x.Access.Until, EndReason: x.Access.EndReason}
	if !x.Started {
		v.Time = x.Access.EndedAt
	}
	l.app.log.WarnContext(ctx, "break-glass access", "started", x.Started, "user", v.UserID, "role", v.Role,
		"access", x.Access.ID, "until", v.Until, "end_reason", v.EndReason)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.a = append([]alertView{v}, l.a...)
	if len(l.a) > maxAlerts {
		l.a = l.a[:maxAlerts]
	}
}

func (l *alertList) list() []alertView {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]alertView{}, l.a...)
}

// listAlerts: GET /api/admin/alerts — the recent break-glass alerts.
func (a *app) listAlerts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.alerts.list())
}

// pageAlerts: GET /admin/alerts — the same for the browser.
func (a *app) pageAlerts(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, 0, "alerts", "Break-glass alerts", struct{ Alerts []alertView }{a.alerts.list()}, "")
}

package ui

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/export"
)

// Bounds and fixed values of the credentials pages.
const (
	// maxSessionIssued bounds the credentials one session can reach.
	maxSessionIssued = 8
	// keyFleetIssued is the session's list of ids of issued credentials,
	// space-separated, oldest first.
	keyFleetIssued = "fleet_issued"
)

func (f *fleet) confirmRotate(w http.ResponseWriter, r *http.Request) {
	d, ok := f.device(w, r)
	if !ok {
		return
	}
	v := f.view(r)
	path := fleetDevicePath(d.Name)
	f.render(w, r, http.StatusOK, fleetConfirmPage(v, fleetConfirmData{
		Title: v.T("fleet.cred.rotate"), Question: v.T("fleet.cred.confirm_rotate", d.Name),
		Action: path + "/rotate", Button: v.T("fleet.cred.rotate"), Cancel: path,
	}))
}

// rotateCredentials issues new credentials and sends the browser to them.
func (f *fleet) rotateCredentials(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	is, err := f.scope(r).RotateCredentials(name)
	if err != nil {
		f.refuseChange(w, r, err, fleetDevicePath(name), "fleet.not_rotated")
		return
	}
	f.handOver(w, r, is)
}

func (f *fleet) confirmRevoke(w http.ResponseWriter, r *http.Request) {
	d, ok := f.device(w, r)
	if !ok {
		return
	}
	v := f.view(r)
	path := fleetDevicePath(d.Name)
	c := fleetConfirmData{Action: path + "/revoke", Button: v.T("fleet.cred.revoke"), Cancel: path}
	if id := r.URL.Query().Get("credential"); id != "" {
		if !slices.ContainsFunc(d.Credentials, func(c store.Credential) bool { return c.ID == id }) {
			f.notFound(w, r)
			return
		}
		c.Title, c.Question = v.T("fleet.cred.revoke"), v.T("fleet.cred.confirm_revoke", id, d.Name)
		c.Fields = [][2]string{{"credential", id}}
	} else {
		c.Title, c.Question = v.T("fleet.cred.revoke_all"), v.T("fleet.cred.confirm_revoke_all", d.Name)
	}
	f.render(w, r, http.StatusOK, fleetConfirmPage(v, c))
}

// revokeCredentials revokes the credential the form names, or all.
func (f *fleet) revokeCredentials(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	name, id := chi.URLParam(r, "name"), r.PostFormValue("credential")
	path := fleetDevicePath(name)
	if _, err := f.scope(r).RevokeCredentials(name, id); err != nil {
		f.refuseChange(w, r, err, path, "fleet.not_revoked")
		return
	}
	msg := v.T("fleet.cred.revoked_all", name)
	if id != "" {
		msg = v.T("fleet.cred.revoked_one", id)
	}
	f.redirect(w, r, path, msg)
}

// handOver keeps newly issued credentials for this session and sends the
// browser to the page that shows them.
func (f *fleet) handOver(w http.ResponseWriter, r *http.Request, is device.Issued) {
	id, err := f.issued.put(is)
	if err != nil {
		f.fail(w, r, err)
		return
	}
	ctx := r.Context()
	ids := append(strings.Fields(f.sessions.GetString(ctx, keyFleetIssued)), id)
	if n := len(ids) - maxSessionIssued; n > 0 {
		for _, old := range ids[:n] {
			f.issued.drop(old)
		}
		ids = ids[n:]
	}
	f.sessions.Put(ctx, keyFleetIssued, strings.Join(ids, " "))
	http.Redirect(w, r, fleetDevicePath(is.Device.Name)+"/credentials", http.StatusSeeOther)
}

// issuedFor finds the newest credentials of device name this session can
// reach.
func (f *fleet) issuedFor(ctx context.Context, name string) (string, issuedBundle, bool) {
	ids := strings.Fields(f.sessions.GetString(ctx, keyFleetIssued))
	for _, id := range slices.Backward(ids) {
		if b, ok := f.issued.get(id); ok && b.device == name {
			return id, b, true
		}
	}
	return "", issuedBundle{}, false
}

// forgetIssued removes id from the session's list.
func (f *fleet) forgetIssued(ctx context.Context, id string) {
	ids := slices.DeleteFunc(strings.Fields(f.sessions.GetString(ctx, keyFleetIssued)), func(s string) bool { return s == id })
	if len(ids) == 0 {
		f.sessions.Remove(ctx, keyFleetIssued)
		return
	}
	f.sessions.Put(ctx, keyFleetIssued, strings.Join(ids, " "))
}

// fleetIssuedData is what the page of new credentials shows.
type fleetIssuedData struct {
	Device  string
	Secret  string // "" once shown
	Expires time.Time
}

// showIssued: the new credentials of a device. The secret shows on the
// first visit only; the download stays until it is taken or expires.
func (f *fleet) showIssued(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	name := chi.URLParam(r, "name")
	id, b, ok := f.issuedFor(r.Context(), name)
	if !ok {
		f.render(w, r, http.StatusGone, fleetIssuedGonePage(v, name))
		return
	}
	secret, _ := f.issued.takeSecret(id)
	f.render(w, r, http.StatusOK, fleetIssuedPage(v, fleetIssuedData{Device: name, Secret: secret, Expires: b.expires}))
}

// downloadCredentials answers the one download of new credentials, a zip
// file, and forgets them.
func (f *fleet) downloadCredentials(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	id, _, ok := f.issuedFor(r.Context(), name)
	var b issuedBundle
	if ok {
		b, ok = f.issued.take(id)
		f.forgetIssued(r.Context(), id)
	}
	if !ok {
		f.render(w, r, http.StatusGone, fleetIssuedGonePage(f.view(r), name))
		return
	}
	body, err := credentialsZip(b, f.mqttAddr, f.now())
	if err != nil {
		f.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", export.FileName(name)+"-credentials.zip"))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

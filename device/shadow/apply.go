package shadow

import (
	"net/http"
	"sort"

	"github.com/hearthiot/hearth/protocol/program"
)

// Change is one leaf of one section changed by an update, for the history of
// settings. Old is nil for a leaf that was added, New is nil for one that was
// deleted. Key is the dotted path from the section ("lights.color.r"); keys
// that contain dots make it ambiguous, which history can live with.
type Change struct {
	Section string
	Key     string
	Old     any
	New     any
}

// Result is everything an accepted update produces.
type Result struct {
	// Document is the new stored shadow.
	Document Document
	// Accepted is the update/accepted message.
	Accepted []byte
	// Delta is the update/delta message, nil when none is due (see Apply).
	Delta []byte
	// Documents is the update/documents message.
	Documents []byte
	// Changes lists every leaf whose value changed, sorted by section and
	// key. A leaf written with the value it already had is not a change,
	// though its metadata timestamp moves.
	Changes []Change
}

// Apply merges an update into a shadow; doc is nil when the shadow does not
// exist yet (it then starts at version 0, so the first update makes version
// 1; a caller that keeps the version of a deleted shadow passes a Document
// with that Version and no state). doc is not modified.
//
// The merge follows AWS: desired and reported merge key by key and
// recursively; a null deletes the key and everything under it; a section set
// to null is deleted; arrays and other non-object values replace the stored
// value whole. Where AWS is silent:
//   - an object left empty, by deletions or because the request wrote an
//     empty object, is removed, and so is a section left empty, so that every
//     stored key has leaves with metadata;
//   - an object written over a non-object value (or the reverse) replaces it;
//   - every accepted update increments the version by one, even when no value
//     changed, and sets the timestamps of every leaf it wrote.
//
// A request version other than the current one is rejected with 409 "Version
// conflict"; a resulting state over MaxStateBytes with 413. A rejection
// changes nothing.
//
// The delta message is due when the resulting delta is not empty and either
// the request wrote to desired or the update changed the delta. So a device
// reporting unrelated values while a delta is pending does not get the same
// delta again, an operator who writes desired again does resend it, and a
// report that removes a key still desired brings it back. Like AWS's, it
// carries the whole current delta, not only the keys of this request, and the
// same version as the accepted message. When reported catches up with
// desired, no delta message is due; desired stays as it is (AWS never clears
// it), the get response then has no delta, and the documents message shows
// both sections equal.
func Apply(doc *Document, upd Update, now int64, lim Limits) (Result, error) {
	lim = lim.withDefaults()
	if err := upd.check(lim); err != nil {
		return Result{}, err
	}
	var prev Document
	if doc != nil {
		prev = *doc
	}
	if upd.HasVersion && upd.Version != prev.Version {
		return Result{}, &Error{Code: http.StatusConflict, Message: msgVersionConflict}
	}

	next := Document{
		State:     State{Desired: cloneMap(prev.State.Desired), Reported: cloneMap(prev.State.Reported)},
		Metadata:  Metadata{Desired: cloneMap(prev.Metadata.Desired), Reported: cloneMap(prev.Metadata.Reported)},
		Version:   prev.Version + 1,
		Timestamp: now,
	}
	var changes []Change
	next.State.Desired, next.Metadata.Desired = applySection(SectionDesired, next.State.Desired, next.Metadata.Desired, upd.Desired, upd.DeleteDesired, now, &changes)
	next.State.Reported, next.Metadata.Reported = applySection(SectionReported, next.State.Reported, next.Metadata.Reported, upd.Reported, upd.DeleteReported, now, &changes)
	if stateSize(next.State) > lim.MaxStateBytes {
		return Result{}, &Error{Code: http.StatusRequestEntityTooLarge, Message: msgTooLarge}
	}
	sort.Slice(changes, func(i, j int) bool {
		if changes[i].Section != changes[j].Section {
			return changes[i].Section < changes[j].Section
		}
		return changes[i].Key < changes[j].Key
	})

	res := Result{Document: next, Changes: changes}
	res.Accepted = marshal(acceptedJSON{
		State:       upd.requestState(),
		Metadata:    requestMeta(upd, now),
		Version:     next.Version,
		Timestamp:   now,
		ClientToken: upd.ClientToken,
	})
	oldDelta := Delta(prev)
	newDelta := Delta(next)
	if len(newDelta) > 0 && (upd.Desired != nil || !equal(oldDelta, newDelta)) {
		res.Delta = marshal(deltaJSON{
			State:       newDelta,
			Metadata:    deltaMeta(newDelta, next.Metadata.Desired),
			Version:     next.Version,
			Timestamp:   now,
			ClientToken: upd.ClientToken,
		})
	}
	res.Documents = marshal(documentsJSON{
		Previous:    snapshotOf(prev),
		Current:     snapshotOf(next),
		Timestamp:   now,
		ClientToken: upd.ClientToken,
	})
	return res, nil
}

// applySection merges one section of the request into its stored copy
// (which applySection owns) and returns the new section and metadata, nil
// when the section is left empty.
func applySection(name string, state, meta, upd map[string]any, del bool, now int64, changes *[]Change) (map[string]any, map[string]any) {
	if del {
		for k, v := range state {
			removed(name, k, v, changes)
		}
		return nil, nil
	}
	if upd == nil {
		return state, meta
	}
	if state == nil {
		state = map[string]any{}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	merge(name, "", state, meta, upd, now, changes)
	if len(state) == 0 {
		return nil, nil
	}
	return state, meta
}

// merge writes upd into state and meta, which mirror each other.
func merge(section, prefix string, state, meta, upd map[string]any, now int64, changes *[]Change) {
	for k, v := range upd {
		path := join(prefix, k)
		old, had := state[k]
		switch nv := v.(type) {
		case nil:
			if had {
				removed(section, path, old, changes)
				delete(state, k)
				delete(meta, k)
			}
		case map[string]any:
			sub, isObject := old.(map[string]any)
			subMeta, _ := meta[k].(map[string]any)
			if subMeta == nil {
				subMeta = map[string]any{}
			}
			if !isObject {
				if had {
					removed(section, path, old, changes)
				}
				sub, subMeta = map[string]any{}, map[string]any{}
			}
			merge(section, path, sub, subMeta, nv, now, changes)
			if len(sub) == 0 {
				delete(state, k)
				delete(meta, k)
				continue
			}
			state[k], meta[k] = sub, subMeta
		default:
			switch {
			case !had:
				*changes = append(*changes, Change{Section: section, Key: path, New: clone(nv)})
			case isObject(old):
				removed(section, path, old, changes)
				*changes = append(*changes, Change{Section: section, Key: path, New: clone(nv)})
			case !equal(old, nv):
				*changes = append(*changes, Change{Section: section, Key: path, Old: old, New: clone(nv)})
			}
			state[k] = clone(nv)
			meta[k] = leaf(now)
		}
	}
}

// removed records the deletion of every leaf under path.
func removed(section, path string, old any, changes *[]Change) {
	m, ok := old.(map[string]any)
	if !ok {
		*changes = append(*changes, Change{Section: section, Key: path, Old: old})
		return
	}
	for k, v := range m {
		removed(section, join(path, k), v, changes)
	}
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// requestMeta mirrors the request's state tree with the update time at every
// leaf, deletions included, which is what AWS's accepted message carries for
// "the updated fields". A section set to null gets one timestamp.
func requestMeta(u Update, now int64) map[string]any {
	m := map[string]any{}
	switch {
	case u.DeleteDesired:
		m[SectionDesired] = leaf(now)
	case u.Desired != nil:
		m[SectionDesired] = mirror(u.Desired, now)
	}
	switch {
	case u.DeleteReported:
		m[SectionReported] = leaf(now)
	case u.Reported != nil:
		m[SectionReported] = mirror(u.Reported, now)
	}
	return m
}

func mirror(m map[string]any, now int64) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out[k] = mirror(sub, now)
			continue
		}
		out[k] = leaf(now)
	}
	return out
}

// Delta is the difference between desired and reported as AWS computes it:
// every desired key whose value is missing from reported or differs from it,
// recursing into objects present on both sides so the delta keeps the path
// to the root; arrays and other values compare whole. Keys only reported are
// not in it. It is nil when there is nothing to apply.
//
// A desired operating program (the classic shadow's "program", package
// protocol/program) is one value: when it differs from the reported one,
// the delta carries all of it, never the fields that changed, so a device
// never sees a program without its date or time zone.
func Delta(doc Document) map[string]any {
	d := deltaOf(doc.State.Desired, doc.State.Reported)
	if dp, ok := doc.State.Desired[program.Key]; ok {
		if _, differs := d[program.Key]; differs {
			d[program.Key] = clone(dp)
		}
	}
	if len(d) == 0 {
		return nil
	}
	return d
}

func deltaOf(desired, reported map[string]any) map[string]any {
	out := map[string]any{}
	for k, dv := range desired {
		rv, ok := reported[k]
		if !ok {
			out[k] = clone(dv)
			continue
		}
		dm, dIsObject := dv.(map[string]any)
		rm, rIsObject := rv.(map[string]any)
		if dIsObject && rIsObject {
			if sub := deltaOf(dm, rm); len(sub) > 0 {
				out[k] = sub
			}
			continue
		}
		if !equal(dv, rv) {
			out[k] = clone(dv)
		}
	}
	return out
}

// deltaMeta is the metadata of the delta: AWS gives each delta field the
// metadata of the desired field it comes from.
func deltaMeta(delta, desiredMeta map[string]any) map[string]any {
	out := make(map[string]any, len(delta))
	for k, v := range delta {
		if sub, ok := v.(map[string]any); ok {
			dm, _ := desiredMeta[k].(map[string]any)
			out[k] = deltaMeta(sub, dm)
			continue
		}
		out[k] = clone(desiredMeta[k])
	}
	return out
}

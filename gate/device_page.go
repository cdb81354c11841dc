package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/hearthiot/hearth/store"
)

// DeviceListQuery asks for one page of the devices p may see. Empty
// fields match any value; Cursor is the Next of the page before.
type DeviceListQuery struct {
	Customer string
	Site     string
	Type     string
	// Search keeps devices whose name or display name contains it,
	// ignoring case.
	Search string
	// Online keeps only connected (true) or disconnected (false) devices.
	Online *bool
	// Firmware keeps devices whose classic shadow reports this firmware
	// version (reported "firmware", else "firmware_version"), as
	// ReportedFirmware reads it.
	Firmware string
	Cursor   string
	Limit    int // 0 is store.DefaultDeviceLimit
}

// DevicePage is one page of devices; Next is "" after the last.
type DevicePage struct {
	Devices []DeviceView
	Next    string
}

// maxSearchLen bounds a search: longer than any name or display name, it
// could match nothing.
const maxSearchLen = 128

// DevicePage returns one page of the devices p may see that match q. A
// customer sees only its own devices; naming another customer finds
// nothing.
func (s Scope) DevicePage(q DeviceListQuery) (DevicePage, error) {
	f, err := s.deviceFilter(q.Customer, q.Site)
	if err != nil {
		return DevicePage{}, err
	}
	switch {
	case q.Limit < 0 || q.Limit > store.MaxDeviceLimit:
		return DevicePage{}, Invalid(`query argument "limit": %d; 1 to %d devices a page are accepted`, q.Limit, store.MaxDeviceLimit)
	case len(q.Search) > maxSearchLen:
		return DevicePage{}, Invalid(`query argument "q": %d bytes; at most %d are accepted`, len(q.Search), maxSearchLen)
	case len(q.Firmware) > maxSearchLen:
		return DevicePage{}, Invalid(`query argument "firmware": %d bytes; at most %d are accepted`, len(q.Firmware), maxSearchLen)
	}
	sq := store.DeviceQuery{
		Customer: f.Customer,
		Site:     f.Site,
		Type:     q.Type,
		Search:   q.Search,
		Cursor:   q.Cursor,
		Limit:    q.Limit,
	}
	if q.Online != nil {
		if s.g.presence == nil {
			return DevicePage{}, Unavailable("connection state is not available")
		}
		want := *q.Online
		sq.Keep = func(name string) bool {
			info, _ := s.g.presence.Get(name)
			return info.Online == want
		}
	}
	if q.Firmware != "" {
		sq.KeepShadow = firmwareFilter(q.Firmware)
	}
	page, err := s.g.registry.PageDevices(sq)
	if errors.Is(err, store.ErrInvalid) && q.Cursor != "" {
		return DevicePage{}, Invalid(`query argument "cursor": %q is not a cursor of this listing; start again without one`, q.Cursor)
	}
	if err != nil {
		return DevicePage{}, err
	}
	out := DevicePage{Devices: make([]DeviceView, len(page.Devices)), Next: page.Next}
	for i, d := range page.Devices {
		out.Devices[i] = s.view(d)
	}
	return out, nil
}

// firmwareFilter keeps the classic shadow records that report version.
// A version of plain characters must appear in the record's bytes as it
// is, so records without it are passed over undecoded.
func firmwareFilter(version string) func(string, []byte) bool {
	plain := strings.IndexFunc(version, func(r rune) bool {
		return r < ' ' || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' || r > '~'
	}) < 0
	needle := []byte(version)
	return func(_ string, classic []byte) bool {
		if classic == nil || plain && !bytes.Contains(classic, needle) {
			return false
		}
		return recordFirmware(classic) == version
	}
}

// recordFirmware reads the reported firmware version from a stored shadow
// record, as ReportedFirmware does from a document.
func recordFirmware(record []byte) string {
	var rec struct {
		Doc struct {
			State struct {
				Reported struct {
					Firmware        json.RawMessage `json:"firmware"`
					FirmwareVersion json.RawMessage `json:"firmware_version"`
				} `json:"reported"`
			} `json:"state"`
		} `json:"doc"`
	}
	if json.Unmarshal(record, &rec) != nil {
		return ""
	}
	for _, raw := range []json.RawMessage{rec.Doc.State.Reported.Firmware, rec.Doc.State.Reported.FirmwareVersion} {
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if len(raw) == 0 || dec.Decode(&v) != nil {
			continue
		}
		switch v := v.(type) {
		case string:
			if v != "" {
				return v
			}
		case json.Number:
			return v.String()
		}
	}
	return ""
}

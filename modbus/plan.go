package modbus

import (
	"cmp"
	"slices"
)

// request is one read (or write) of a run of registers or bits of one
// unit and table.
type request struct {
	unit   uint8
	fn     Function
	addr   uint16
	count  int
	points []*Point // in address order
	split  bool     // one point of a joint request that had an exception
}

func (r request) fault(kind FaultKind, err error) *Fault {
	return &Fault{Kind: kind, UnitID: r.unit, Function: r.fn, Address: r.addr, Count: r.count, Points: r.points, Err: err}
}

// plan groups points into as few requests as the limits allow: points of
// one unit and table whose registers follow each other (or leave a gap of
// at most maxGap) share a request of up to 125 registers or 2000 bits. A
// point marked alone is read by itself, and no request reaches across its
// registers.
func plan(points []*Point, maxGap int, alone map[*Point]bool) []request {
	sorted := slices.Clone(points)
	slices.SortFunc(sorted, func(a, b *Point) int {
		return cmp.Or(cmp.Compare(a.UnitID, b.UnitID), cmp.Compare(a.Function, b.Function), cmp.Compare(a.Address, b.Address))
	})
	sorted = slices.Compact(sorted) // the same point asked for twice
	var out []request
	var cur *request
	for _, p := range sorted {
		if cur != nil && joins(cur, p, maxGap, alone) {
			cur.count = p.last() - int(cur.addr) + 1
			cur.points = append(cur.points, p)
			continue
		}
		out = append(out, request{unit: p.UnitID, fn: p.Function, addr: p.Address, count: p.Width(), points: []*Point{p}})
		cur = &out[len(out)-1]
	}
	return out
}

func joins(r *request, p *Point, maxGap int, alone map[*Point]bool) bool {
	prev := r.points[len(r.points)-1]
	if p.UnitID != r.unit || p.Function != r.fn || alone[p] || alone[prev] {
		return false
	}
	end := int(r.addr) + r.count // first address after the request
	gap := int(p.Address) - end
	if gap < 0 || gap > maxGap || p.last()-int(r.addr)+1 > r.fn.maxCount() {
		return false
	}
	for q := range alone {
		if q.UnitID == r.unit && q.Function == r.fn && int(q.Address) < int(p.Address) && q.last() >= end {
			return false // the gap would read the registers of a point that fails
		}
	}
	return true
}

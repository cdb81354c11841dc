package agent

// AppendRecord encodes a spool record, for tests that build segment files.
var AppendRecord = appendRecord

// SegmentHeader is the length of a segment file's header.
const SegmentHeader = segmentHeader

package server

import "github.com/hearthiot/hearth/store/tsdb"

// TSDBForTest is the running server's time-series store, so that tests and
// benchmarks can load telemetry in bulk and make it searchable at once.
func (s *Server) TSDBForTest() *tsdb.DB { return s.tsdb }

// StartStepNames are the names of Start's steps, in the order it runs them.
func StartStepNames() []string {
	var names []string
	for _, st := range (&Server{}).startSteps() {
		names = append(names, st.name)
	}
	return names
}

package main

// Stats counts commands, and their sizes, by command name.
type Stats struct {
	counts map[string]int
	sizes  map[string][]int
}

func newStats() *Stats { return &Stats{counts: map[string]int{}, sizes: map[string][]int{}} }

func (s *Stats) record(name string, size int) {
	s.counts[name]++
	s.sizes[name] = append(s.sizes[name], size)
}

// mean is the average of values, rounded down.
func mean(values []int) int {
	sum := 0
	for _, v := range values {
		sum += v
	}
	return sum / len(values)
}

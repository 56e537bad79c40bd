package pgaudit

// SetTreeOff turns Merkle tree maintenance off for the benchmarks' before
// figure (BenchmarkAppend writer-tree-off).
func SetTreeOff(off bool) { treeOff = off }

package store

// SetDeletePage makes the deletes of an import scan the state n customers
// a read transaction, so that a small test crosses many pages; the func
// returned restores it.
func SetDeletePage(n int) (restore func()) {
	old := deletePage
	deletePage = n
	return func() { deletePage = old }
}

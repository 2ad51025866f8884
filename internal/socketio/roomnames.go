package socketio

// roomNames is the set of rooms one socket is in. Most sockets are in one
// or two rooms, so the names are kept in a slice (a map with one entry
// costs about 300 bytes, a slice of one string 16); past
// roomNamesSliceMax names it moves to a map, so that a socket in many
// rooms still joins and leaves in constant time. The zero value is empty.
// Not safe for concurrent use: Socket guards it with its mutex.
type roomNames struct {
	list []string
	set  map[string]struct{} // non-nil once the names outgrew list
}

const roomNamesSliceMax = 16

// add adds name and reports whether it was new.
func (r *roomNames) add(name string) bool {
	if r.set != nil {
		if _, ok := r.set[name]; ok {
			return false
		}
		r.set[name] = struct{}{}
		return true
	}
	for _, n := range r.list {
		if n == name {
			return false
		}
	}
	if len(r.list) < roomNamesSliceMax {
		r.list = append(r.list, name)
		return true
	}
	r.set = make(map[string]struct{}, 2*roomNamesSliceMax)
	for _, n := range r.list {
		r.set[n] = struct{}{}
	}
	r.list = nil
	r.set[name] = struct{}{}
	return true
}

// remove removes name and reports whether it was there.
func (r *roomNames) remove(name string) bool {
	if r.set != nil {
		if _, ok := r.set[name]; !ok {
			return false
		}
		delete(r.set, name)
		return true
	}
	for i, n := range r.list {
		if n == name {
			last := len(r.list) - 1
			r.list[i] = r.list[last]
			r.list[last] = ""
			r.list = r.list[:last]
			return true
		}
	}
	return false
}

// len is the number of names.
func (r *roomNames) len() int {
	if r.set != nil {
		return len(r.set)
	}
	return len(r.list)
}

// appendTo appends the names, in no particular order, to out.
func (r *roomNames) appendTo(out []string) []string {
	if r.set != nil {
		for n := range r.set {
			out = append(out, n)
		}
		return out
	}
	return append(out, r.list...)
}

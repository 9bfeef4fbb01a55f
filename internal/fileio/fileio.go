package fileio

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrDirectory is returned by ReadCapped when the path names a directory.
var ErrDirectory = errors.New("is a directory")

// ReadCapped reads at most limit+1 bytes of the file at path, so a caller detects an oversized
// file (len(data) > limit) without reading it whole. A directory gives an error wrapping
// ErrDirectory; a missing file one wrapping fs.ErrNotExist.
func ReadCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: ErrDirectory}
	}
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// WriteAtomic replaces the file at path with data and gives it mode: it writes a temp file in
// the same directory, fsyncs it, renames it over path and fsyncs the directory, so a reader
// sees the old or the new contents, never a mix, and a crash loses neither. A symlink at path
// is replaced by a regular file; callers that mean to write through a link resolve it first.
func WriteAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, e := os.Open(dir); e == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

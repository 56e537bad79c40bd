package auth_test

import (
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/auth/memstore"
)

func init() {
	auth.MemStores.Users = memstore.NewUserStore
	auth.MemStores.Sessions = memstore.NewSessionStore
	auth.MemStores.Emergencies = memstore.NewEmergencyLog
	auth.MemStores.FileUsers = func(dir string) (interface {
		auth.UserStore
		Close() error
	}, error) {
		st, err := filestore.OpenUserStore(dir)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
}

package pgstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hipaakit/hipaakit/phi"
)

var _ phi.KeyChangeNotifier = (*Store)(nil)

// Timing of the change listener.
const (
	// listenIdle is how long the listener waits for a notification before
	// it checks that its connection is alive.
	listenIdle = 250 * time.Millisecond
	// listenPingTimeout bounds that check. A connection that died silently
	// is found within listenIdle + listenPingTimeout (750 ms), after which
	// the Vault caches keys at most phi.UnwatchedCacheTTL.
	listenPingTimeout = 500 * time.Millisecond
	// listenConnectTimeout bounds one connection attempt.
	listenConnectTimeout = 5 * time.Second
	// listenRetryMin and listenRetryMax bound the wait between attempts.
	listenRetryMin = 50 * time.Millisecond
	listenRetryMax = time.Second
)

// ListenerApplicationName is the application_name of the change listener's
// connection, so that operators can tell it apart in pg_stat_activity.
const ListenerApplicationName = "hipaakit-keys-listener"

// channelSQL names the notification channel of the phi_keysets table that
// the connection's search_path finds, as the table's trigger computes it
// (migration 0002).
const channelSQL = `SELECT 'hipaakit_keys_' || md5(n.nspname) FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'phi_keysets'::regclass`

// WatchKeyChanges implements phi.KeyChangeNotifier with PostgreSQL
// LISTEN/NOTIFY: a listener on a dedicated connection (made like the pool's
// connections, but outside the pool), reconnecting with backoff when it
// is lost, that hands every notified reference to w. The table's trigger
// notifies in the transaction of every update or shred, made by any process
// (Migrate version 2).
func (s *Store) WatchKeyChanges(w phi.KeyChangeWatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.listen(ctx, w)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// listen keeps a listening connection up until ctx is done.
func (s *Store) listen(ctx context.Context, w phi.KeyChangeWatcher) {
	w.Watching(false)
	delay := listenRetryMin
	for {
		if s.listenOnce(ctx, w) {
			delay = listenRetryMin
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, listenRetryMax)
	}
}

// listenOnce connects, listens and delivers notifications until the
// connection fails or ctx is done. It reports whether it got as far as
// listening; while it listens, w is live.
func (s *Store) listenOnce(ctx context.Context, w phi.KeyChangeWatcher) (listened bool) {
	cctx, cancel := context.WithTimeout(ctx, listenConnectTimeout)
	defer cancel()
	conn, err := s.connect(cctx)
	if err != nil {
		return false
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the connection is being dropped
	var channel string
	if err := conn.QueryRow(cctx, channelSQL).Scan(&channel); err != nil {
		return false
	}
	if _, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return false
	}
	w.Watching(true)
	defer w.Watching(false)
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			w.KeyChanged(n.Payload)
			continue
		case ctx.Err() != nil:
			return true
		case !pgconn.Timeout(err) && !errors.Is(err, context.DeadlineExceeded):
			return true
		}
		pctx, cancel := context.WithTimeout(ctx, listenPingTimeout)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return true
		}
	}
}

// connect opens a connection outside the pool, the way the pool opens its
// own (its BeforeConnect and AfterConnect hooks included).
func (s *Store) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.pool.Config()
	cfg.ConnConfig.RuntimeParams["application_name"] = ListenerApplicationName
	if cfg.BeforeConnect != nil {
		if err := cfg.BeforeConnect(ctx, cfg.ConnConfig); err != nil {
			return nil, err
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, err
	}
	if cfg.AfterConnect != nil {
		if err := cfg.AfterConnect(ctx, conn); err != nil {
			conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // failed connection
			return nil, err
		}
	}
	return conn, nil
}

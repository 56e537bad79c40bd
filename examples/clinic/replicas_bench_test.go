package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// Scale benchmarks (SCALING.md): three clinic replicas, in this process,
// on one PostgreSQL schema, each served over TLS on loopback. Every
// benchmark runs its one-replica baseline beside the three-replica row, on
// the same deployment and data: replicas=1 sends every request to r1,
// replicas=3 spreads them over r1, r2 and r3.

// benchClients is the number of concurrent clients.
const benchClients = 32

// benchDeployment is three replicas and a physician's session.
type benchDeployment struct {
	apps     []*app
	srvs     []*httptest.Server
	patients []string
	jar      http.CookieJar
	pool     *pgxpool.Pool
}

func openBenchDeployment(b *testing.B) *benchDeployment {
	b.Helper()
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(b)
	b.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema + hipaakit.LedgerSchemaSuffix}.Sanitize()+" CASCADE")
	})
	kek, err := localkek.Generate()
	if err != nil {
		b.Fatal(err)
	}
	shared := b.TempDir()
	d := &benchDeployment{}
	var users []demoUser
	for i := range 3 {
		cfg := testConfig(b.TempDir())
		cfg.DatabaseURL = withSearchPath(b, hipaakittest.PostgresURL(), schema)
		cfg.MasterKey, cfg.InstanceID = kek, fmt.Sprintf("r%d", i+1)
		cfg.SigningKey, cfg.BackupDir = filepath.Join(shared, "signing-key.pem"), filepath.Join(shared, "backups")
		a, err := openApp(ctx, cfg, clock.System, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		h, err := a.handler()
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewTLSServer(h)
		b.Cleanup(srv.Close)
		if i == 0 {
			if users, err = a.seed(ctx); err != nil {
				b.Fatal(err)
			}
		}
		d.apps, d.srvs = append(d.apps, a), append(d.srvs, srv)
	}
	var doc demoUser
	for _, u := range users {
		if u.Role == rolePhysician {
			doc = u
		}
	}
	// The seed used the current step's code; the next is within the skew.
	code, _ := totp.GenerateCode(doc.TOTPSecret, time.Now().Add(30*time.Second))
	d.jar, _ = cookiejar.New(nil)
	hc := d.client(0)
	var login struct {
		Status    string `json:"status"`
		CSRFToken string `json:"csrf_token"`
	}
	if st := benchDo(b, hc, http.MethodPost, d.srvs[0].URL+"/api/auth/login", "", map[string]string{"tenant_id": demoTenant,
		"name": doc.Name, "password": doc.Password, "totp_code": code}, &login); st != http.StatusOK || login.Status != "authenticated" {
		b.Fatalf("login: %d %+v", st, login)
	}
	for i := range 50 {
		var out struct{ ID string }
		if st := benchDo(b, hc, http.MethodPost, d.srvs[i%3].URL+"/api/patients", login.CSRFToken, map[string]string{
			"mrn": fmt.Sprintf("MRN-B%03d", i), "name": "Bench Patient", "dob": "1970-01-02", "zip": "02139"}, &out); st != http.StatusCreated {
			b.Fatalf("create patient: %d", st)
		}
		d.patients = append(d.patients, out.ID)
	}
	d.pool = pool
	return d
}

// selfCPU is this process's CPU time so far: the replicas' and the
// clients' (TLS, HTTP, JSON on both sides).
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pgCost returns the CPU time so far of the PostgreSQL backends serving
// this process (found through its sockets, as in TestReplicaProcesses;
// /proc/PID/stat, in clock ticks of 10 ms) and the bytes the deployment's
// tables (indexes and TOAST included) take. The write-ahead log is the
// cluster's, shared with whatever else runs on the server, so it is not
// measured here.
func (d *benchDeployment) pgCost(b *testing.B) (time.Duration, int64) {
	ctx := context.Background()
	var cpu time.Duration
	for pid := range backends(b, ctx, d.pool, os.Getpid(), int(d.pool.Config().ConnConfig.Port)) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // ended meanwhile
		}
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		cpu += time.Duration(ut+st) * 10 * time.Millisecond
	}
	var size int64
	if err := d.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&size); err != nil {
		b.Fatal(err)
	}
	return cpu, size
}

// client is an HTTP client of its own (its own connections) with the
// physician's session, trusting replica i's test certificate (all three
// use httptest's one certificate).
func (d *benchDeployment) client(i int) *http.Client {
	tr := d.srvs[i].Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	return &http.Client{Transport: tr, Jar: d.jar, Timeout: 30 * time.Second}
}

func benchDo(b *testing.B, hc *http.Client, method, u, csrf string, body, out any) int {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

// runClients performs b.N calls of do spread over benchClients goroutines
// and reports calls per second (as unit), the latency percentiles, the
// CPU time of this process per call (replicas and clients), and what the
// calls cost PostgreSQL: the CPU time of this process's backends and the
// growth of the deployment's tables, per call.
func runClients(b *testing.B, d *benchDeployment, unit string, do func(client, i int) error) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0, size0 := d.pgCost(b)
	self0 := selfCPU(b)
	b.ResetTimer()
	start := time.Now()
	for c := range benchClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := do(c, i); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	elapsed := time.Since(start)
	cpu1, size1 := d.pgCost(b)
	self1 := selfCPU(b)
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit)
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(b.N), "pg-cpu-ms/op")
	b.ReportMetric(float64(size1-size0)/float64(b.N), "stored-B/op")
	b.ReportMetric(float64((self1-self0).Microseconds())/1000/float64(b.N), "go-cpu-ms/op")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkReplicaReads measures audited PHI reads, GET
// /api/patients/{id} as a physician (session check, the sealed record
// read from PostgreSQL and opened, one audit event per field revealed, each
// durable before the answer), from 32 concurrent clients: replicas=1 (the
// baseline) sends them all to r1, replicas=3 spreads them over three
// replicas of the same deployment.
func BenchmarkReplicaReads(b *testing.B) {
	d := openBenchDeployment(b)
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			clients := make([]*http.Client, benchClients)
			for c := range clients {
				clients[c] = d.client(c % n)
			}
			runClients(b, d, "req/s", func(c, i int) error {
				u := d.srvs[c%n].URL + "/api/patients/" + d.patients[i%len(d.patients)]
				if st := benchDo(b, clients[c], http.MethodGet, u, "", nil, nil); st != http.StatusOK {
					return fmt.Errorf("GET a patient on r%d: %d", c%n+1, st)
				}
				return nil
			})
		})
	}
}

// BenchmarkReplicaAuditEvents measures audit events per second into one
// PostgreSQL: 32 concurrent callers write through the deployments' audit
// trails (each replica's own leased stream; every Write returns after its
// event committed), replicas=1 (the baseline) through r1's only,
// replicas=3 through r1's, r2's and r3's.
func BenchmarkReplicaAuditEvents(b *testing.B) {
	d := openBenchDeployment(b)
	ctx := context.Background()
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			runClients(b, d, "events/s", func(c, i int) error {
				e := audit.Event{Time: time.Now().UTC(), Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
					Actor:  audit.Actor{UserID: "u-bench", TenantID: demoTenant},
					Origin: audit.Origin{Channel: audit.ChannelAPI, Route: "GET /api/patients/{id}"},
					Target: audit.Target{RecordType: "patient", RecordID: d.patients[i%len(d.patients)], Subject: d.patients[i%len(d.patients)], Field: "dob"}}
				return d.apps[c%n].d.Audit.Write(ctx, e)
			})
		})
	}
}

// BenchmarkReplicaVerify measures what an audit query over the whole trail
// costs: Verify of a trail of 20,000 events written by three replicas
// (every stream, one snapshot), in records per second.
func BenchmarkReplicaVerify(b *testing.B) {
	d := openBenchDeployment(b)
	ctx := context.Background()
	var wg sync.WaitGroup
	for c := range benchClients {
		wg.Go(func() {
			for i := c; i < 20000; i += benchClients {
				e := audit.Event{Time: time.Now().UTC(), Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
					Actor: audit.Actor{UserID: "u-bench", TenantID: demoTenant}, Origin: audit.Origin{Channel: audit.ChannelAPI},
					Target: audit.Target{RecordType: "patient", Subject: d.patients[i%len(d.patients)], Field: "dob"}}
				if err := d.apps[c%3].d.Audit.Write(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	trail, keys := d.apps[0].d.Audit, d.apps[0].d.TrustedKeys().Keys()
	var records int64
	for b.Loop() {
		res, err := trail.Verify(ctx, audit.VerifyOptions{Keys: keys})
		if err != nil {
			b.Fatal(err)
		}
		records = 0
		for _, st := range res.Streams {
			records += int64(st.Records)
		}
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(records), "records")
}

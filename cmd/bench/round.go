package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wxqr/wxqr/storage"
)

// putSize is the size of a raw PUT's object: about a code image's.
const putSize = 30 << 10

// idlePoll is how often bench asks whether the worker's queues are empty.
const idlePoll = 100 * time.Millisecond

// round is what one round measured.
type round struct {
	puts  rawPuts
	naive measured
	// queued is the naive loop's work run by asynq (naiveloop --asynq):
	// what the queue alone costs.
	queued measured
	wxqr   measured
	// keys is what each kind of key costs, after the wxqr run.
	keys []keyKind
}

// rawPuts is the raw S3 PUTs' measure.
type rawPuts struct {
	n        int
	elapsed  time.Duration
	minioCPU time.Duration
}

// measured is the measure of one way of making the codes.
type measured struct {
	codes    int
	elapsed  time.Duration // from the process's start to the last code made
	cpu      time.Duration // the process's own (user + system)
	minioCPU time.Duration
	redisCPU time.Duration
	redis    redisStats // Redis's traffic during the run
	conns    int64      // new connections to the simulator
	// redisBytes is Redis's used_memory after the run less before its
	// codes were queued (wxqr's run only).
	redisBytes int64
}

func (r round) String() string {
	return fmt.Sprintf("raw PUT %.0f/s; naive %.0f codes/s, %v CPU/code; on asynq %.0f codes/s, %v CPU/code; wxqr %.0f codes/s, %v CPU/code, %d B Redis/code",
		perSecond(r.puts.n, r.puts.elapsed), perSecond(r.naive.codes, r.naive.elapsed), perCode(r.naive.cpu, r.naive.codes),
		perSecond(r.queued.codes, r.queued.elapsed), perCode(r.queued.cpu, r.queued.codes),
		perSecond(r.wxqr.codes, r.wxqr.elapsed), perCode(r.wxqr.cpu, r.wxqr.codes), r.wxqr.redisBytes/int64(max(r.wxqr.codes, 1)))
}

// round measures raw PUTs, the naive loop, the loop on asynq and wxqr, in
// this order. Each writes under prefixes of its own round, so that nothing
// finds the objects of another.
func (e *env) round(ctx context.Context, i int) (round, error) {
	var r round
	var err error
	if r.puts, err = e.rawPuts(ctx, fmt.Sprintf("raw-%d", i)); err != nil {
		return r, fmt.Errorf("raw PUTs: %w", err)
	}
	if r.naive, err = e.naive(ctx, fmt.Sprintf("naive-%d", i), nil); err != nil {
		return r, fmt.Errorf("naive loop: %w", err)
	}
	if r.queued, err = e.queued(ctx, fmt.Sprintf("queued-%d", i)); err != nil {
		return r, fmt.Errorf("naive loop on asynq: %w", err)
	}
	if r, err = e.wxqr(ctx, r, fmt.Sprintf("wxqr-%d", i)); err != nil {
		return r, fmt.Errorf("wxqr: %w", err)
	}
	return r, nil
}

// rawPuts PUTs --codes objects of putSize bytes, --concurrency at once,
// through wxqr's S3 store.
func (e *env) rawPuts(ctx context.Context, prefix string) (rawPuts, error) {
	store, err := storage.NewS3(ctx, storage.S3Config{
		Bucket: benchBucket, Prefix: prefix, Endpoint: e.s3URL, Region: "us-east-1", ForcePathStyle: true,
		AccessKey: e.s3Access, SecretKey: e.s3Secret, IdleConns: e.o.concurrency,
	})
	if err != nil {
		return rawPuts{}, err
	}
	body := bytes.Repeat([]byte{0x5a}, putSize)
	minio0 := processCPU(e.minio.Process.Pid)
	start := time.Now()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range e.o.concurrency {
		wg.Go(func() {
			for {
				n := next.Add(1) - 1
				if n >= int64(e.o.codes) || failed.Load() != nil {
					return
				}
				if err := store.Put(ctx, strconv.FormatInt(n, 10)+".jpg", body, "image/jpeg", nil); err != nil {
					failed.Store(&err)
					return
				}
			}
		})
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		return rawPuts{}, *p
	}
	return rawPuts{n: e.o.codes, elapsed: time.Since(start), minioCPU: processCPU(e.minio.Process.Pid) - minio0}, nil
}

// naive runs the naive loop over --codes codes, with more flags if any.
func (e *env) naive(ctx context.Context, prefix string, flags []string) (measured, error) {
	cmd := e.command(ctx, "naiveloop", []string{"WECHAT_APP_SECRET=" + e.secret, "AWS_ACCESS_KEY_ID=" + e.s3Access, "AWS_SECRET_ACCESS_KEY=" + e.s3Secret},
		append([]string{"--wechat", e.simHTTP.URL, "--app-id", benchApp, "--s3-endpoint", e.s3URL, "--bucket", benchBucket,
			"--prefix", prefix, "--codes", strconv.Itoa(e.o.codes), "--concurrency", strconv.Itoa(e.o.concurrency)}, flags...)...)
	return e.measure(ctx, func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		if err := cmd.Wait(); err != nil {
			return 0, fmt.Errorf("%w; its output: %s", err, e.logTail("naiveloop"))
		}
		return e.o.codes, nil
	}, cmd)
}

// queued queues --codes tasks in asynq, one per code, then runs the naive
// loop on them (naiveloop --asynq) until it has made every code.
func (e *env) queued(ctx context.Context, prefix string) (measured, error) {
	if err := e.rdb.FlushAll(ctx).Err(); err != nil {
		return measured{}, err
	}
	client := asynq.NewClientFromRedisClient(e.rdb)
	for i := range e.o.codes {
		task := asynq.NewTask(naiveTaskType, []byte(strconv.Itoa(i+1)))
		if _, err := client.EnqueueContext(ctx, task, asynq.Queue(naiveQueue), asynq.MaxRetry(0)); err != nil {
			return measured{}, err
		}
	}
	return e.naive(ctx, prefix, []string{"--asynq", e.redisAddr, "--queue", naiveQueue})
}

// The queue and the type of the tasks that naiveloop --asynq runs.
const (
	naiveQueue    = "naive"
	naiveTaskType = "naive:code"
)

// wxqr queues --codes codes with enqueue, then runs the worker until its
// queues are empty, and measures Redis's memory around it.
func (e *env) wxqr(ctx context.Context, r round, prefix string) (round, error) {
	if err := e.rdb.FlushAll(ctx).Err(); err != nil {
		return r, err
	}
	workerEnv := e.workerEnv(prefix)
	jobs := filepath.Join(e.dir, "jobs.csv")
	if err := e.writeJobs(jobs); err != nil {
		return r, err
	}
	mem0, err := e.usedMemory(ctx)
	if err != nil {
		return r, err
	}
	enqueue := e.command(ctx, "enqueue", workerEnv, jobs)
	err = enqueue.Run()
	closeLog(enqueue)
	if err != nil {
		return r, fmt.Errorf("enqueue: %w; its output: %s", err, e.logTail("enqueue"))
	}
	if e.o.workerProfile != "" {
		workerEnv = append(workerEnv, "WXQR_CPU_PROFILE="+e.o.workerProfile)
	}
	worker := e.command(ctx, "worker", workerEnv, "--until-idle")
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: e.redisAddr})
	defer inspector.Close()
	r.wxqr, err = e.measure(ctx, func() (int, error) {
		if err := worker.Start(); err != nil {
			return 0, err
		}
		exited := make(chan error, 1)
		go func() { exited <- worker.Wait() }()
		done, err := waitDone(ctx, inspector, exited)
		if err != nil {
			return 0, fmt.Errorf("%w; its log: %s", err, e.logTail("worker"))
		}
		if err := <-exited; err != nil {
			return 0, fmt.Errorf("worker: %w; its log: %s", err, e.logTail("worker"))
		}
		return done, nil
	}, worker)
	if err != nil {
		return r, err
	}
	if r.wxqr.codes != e.o.codes {
		return r, fmt.Errorf("the worker made %d codes of %d; its log: %s", r.wxqr.codes, e.o.codes, e.logTail("worker"))
	}
	mem1, err := e.usedMemory(ctx)
	if err != nil {
		return r, err
	}
	r.wxqr.redisBytes = mem1 - mem0
	r.keys, err = e.keyKinds(ctx)
	return r, err
}

// measure runs body, which starts and runs cmd and returns the codes it
// made, and measures the run: elapsed time to body's return, cmd's CPU,
// MinIO's and Redis's, and the simulator's new connections.
func (e *env) measure(ctx context.Context, body func() (int, error), cmd *exec.Cmd) (measured, error) {
	minio0, redis0 := processCPU(e.minio.Process.Pid), processCPU(e.redis.Process.Pid)
	conns0 := e.simConns.Load()
	stats0, err := e.redisStats(ctx)
	if err != nil {
		return measured{}, err
	}
	start := time.Now()
	codes, err := body()
	closeLog(cmd)
	if err != nil {
		return measured{}, err
	}
	r := measured{codes: codes, elapsed: time.Since(start)}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	r.minioCPU = processCPU(e.minio.Process.Pid) - minio0
	r.redisCPU = processCPU(e.redis.Process.Pid) - redis0
	r.conns = e.simConns.Load() - conns0
	stats1, err := e.redisStats(ctx)
	r.redis = stats1.minus(stats0)
	return r, err
}

// waitDone polls the queues until none holds a task to run, and returns
// how many tasks ran to success. It fails when a task failed for good or
// the worker exited first.
func waitDone(ctx context.Context, inspector *asynq.Inspector, exited chan error) (int, error) {
	tick := time.NewTicker(idlePoll)
	defer tick.Stop()
	for {
		queues, err := inspector.Queues()
		if err != nil {
			return 0, err
		}
		waiting, processed, failed := 0, 0, 0
		for _, q := range queues {
			info, err := inspector.GetQueueInfo(q)
			if err != nil {
				return 0, err
			}
			waiting += info.Pending + info.Active + info.Scheduled + info.Retry + info.Aggregating
			processed += info.Processed
			failed += info.Failed + info.Archived
		}
		switch {
		case failed > 0:
			return 0, fmt.Errorf("%d task runs failed (bench expects none against the simulator)", failed)
		case len(queues) > 0 && waiting == 0:
			return processed, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case err := <-exited:
			exited <- err // for the caller
			return 0, fmt.Errorf("the worker exited with tasks left: %v", err)
		case <-tick.C:
		}
	}
}

// workerEnv is the environment of enqueue and the worker: WeChat is the
// simulator, the images go to the bucket under prefix, no rate limit
// holds the worker back (the naive loop has none), and the monitor is off
// (no port to find).
func (e *env) workerEnv(prefix string) []string {
	return []string{
		"REDIS_URL=redis://" + e.redisAddr + "/0",
		"WXQR_APPS=" + benchApp + ":" + e.secret + ":oa" + idleAppEntries(e.o.idleApps),
		"WECHAT_API_BASE_URL=" + e.simHTTP.URL,
		"WECHAT_MP_BASE_URL=" + e.simHTTP.URL,
		"WXQR_STORAGE=s3://" + benchBucket + "/" + prefix,
		"S3_ENDPOINT=" + e.s3URL,
		"S3_FORCE_PATH_STYLE=true",
		"AWS_ACCESS_KEY_ID=" + e.s3Access,
		"AWS_SECRET_ACCESS_KEY=" + e.s3Secret,
		"AWS_REGION=us-east-1",
		"WXQR_CONCURRENCY=" + strconv.Itoa(e.o.concurrency),
		"WXQR_RATE_LIMITS=qrcode/create=0/s",
		"WXQR_MONITOR_ADDR=off",
		"LOG_LEVEL=info",
		"LOG_FORMAT=json",
	}
}

// idleAppEntries lists n Official Accounts for WXQR_APPS, after the bench's own.
// Nothing is queued for them; the simulator does not know them.
func idleAppEntries(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ",wxidle%06d:idle-secret:oa", i+1)
	}
	return b.String()
}

// writeJobs writes the campaign file: --codes temporary codes by scene id.
func (e *env) writeJobs(path string) error {
	var b strings.Builder
	b.WriteString("kind,app_id,scene_id,scene_str,path,width,expire_seconds,campaign\n")
	for i := 1; i <= e.o.codes; i++ {
		fmt.Fprintf(&b, "oa_temp,%s,%d,,,,3600,%s\n", benchApp, i, campaign)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// command is one of the built commands, its output to a log in e.dir. Its
// environment is only extraEnv, PATH and HOME: nothing of the caller's
// leaks into what is measured.
func (e *env) command(ctx context.Context, name string, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(e.dir, name), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extraEnv...)
	if log, err := os.Create(filepath.Join(e.dir, name+".log")); err == nil {
		cmd.Stdout, cmd.Stderr = log, log // closed by closeLog
	}
	return cmd
}

// closeLog closes the log of a command that has exited.
func closeLog(cmd *exec.Cmd) {
	if log, ok := cmd.Stdout.(*os.File); ok {
		log.Close()
	}
}

// clockTicks is the unit of /proc/<pid>/stat's times (USER_HZ), 100 on
// every Linux port that Go runs on.
const clockTicks = 100

// processCPU is the user + system CPU time pid has used so far, read from
// /proc/<pid>/stat; 0 when it cannot be read.
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which may hold spaces: state is the
	// first, utime and stime the 12th and 13th.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0
	}
	return time.Duration(utime+stime) * time.Second / clockTicks
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func perCode(d time.Duration, codes int) time.Duration {
	return d / time.Duration(max(codes, 1))
}

// Command loadgen is the closed-loop HTTP load generator of the peer benchmark
// (tests/bench/peers_bench.ts): -c workers, each on its own keep-alive connection,
// send -n POST requests in total with one JSON body and read every response to its
// end (a streamed response is read until the server closes it and must end with
// "data: [DONE]"). It prints one JSON object: requests, errors (by kind), seconds,
// req/s, latency and time-to-first-byte percentiles in milliseconds, and the peak
// number of requests in flight at once, and its own CPU time per request.
//
// It dials 127.0.0.1 only: any other host in -url is refused.
//
//	loadgen -url http://127.0.0.1:8080/v1/chat/completions -body '{"model":"m",…}' -c 64 -n 10000
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	Requests   int64            `json:"requests"`
	OK         int64            `json:"ok"`
	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds"`
	Seconds    float64          `json:"seconds"`
	RPS        float64          `json:"rps"`
	P50        float64          `json:"p50_ms"`
	P99        float64          `json:"p99_ms"`
	Mean       float64          `json:"mean_ms"`
	Max        float64          `json:"max_ms"`
	TTFBP50    float64          `json:"ttfb_p50_ms"`
	TTFBP99    float64          `json:"ttfb_p99_ms"`
	PeakOpen   int64            `json:"peak_open"`
	TimedOut   bool             `json:"timed_out"`
	// CPU time (user + system) this process used per request, µs.
	CPUMicrosPerRequest float64 `json:"cpu_us_per_request"`
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func main() {
	target := flag.String("url", "", "URL to POST to (host must be 127.0.0.1)")
	body := flag.String("body", "", "JSON request body")
	concurrency := flag.Int("c", 64, "concurrent workers (one connection each)")
	total := flag.Int64("n", 1000, "requests in total")
	stream := flag.Bool("stream", false, "responses are SSE streams that must end with data: [DONE]")
	timeout := flag.Duration("timeout", 60*time.Second, "timeout of one request")
	deadline := flag.Duration("deadline", 300*time.Second, "stop starting requests after this long")
	ramp := flag.Duration("ramp", 0, "spread the workers' first requests over this long")
	flag.Parse()

	u, err := url.Parse(*target)
	if err != nil || u.Hostname() != "127.0.0.1" {
		fmt.Fprintf(os.Stderr, "loadgen: -url must be an http://127.0.0.1:PORT/… URL, got %q\n", *target)
		os.Exit(2)
	}
	payload := []byte(*body)
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        *concurrency,
		MaxIdleConnsPerHost: *concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	client := &http.Client{Transport: transport, Timeout: *timeout}

	var next, inFlight, peak atomic.Int64
	var mu sync.Mutex
	kinds := map[string]int64{}
	latencies := make([][]float64, *concurrency)
	ttfbs := make([][]float64, *concurrency)
	var okCount, errCount atomic.Int64
	fail := func(kind string) {
		errCount.Add(1)
		mu.Lock()
		kinds[kind]++
		mu.Unlock()
	}
	done := []byte("data: [DONE]")
	start := time.Now()
	stopAt := start.Add(*deadline)
	timedOut := atomic.Bool{}
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			if *ramp > 0 && *concurrency > 1 {
				time.Sleep(time.Duration(int64(*ramp) * int64(w) / int64(*concurrency)))
			}
			var buf bytes.Buffer
			for next.Add(1) <= *total {
				if time.Now().After(stopAt) {
					timedOut.Store(true)
					return
				}
				open := inFlight.Add(1)
				for {
					p := peak.Load()
					if open <= p || peak.CompareAndSwap(p, open) {
						break
					}
				}
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, *target, bytes.NewReader(payload))
				req.Header.Set("content-type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					inFlight.Add(-1)
					latencies[w] = append(latencies[w], ms(time.Since(t0)))
					msg := err.Error()
					if i := strings.LastIndex(msg, ": "); i >= 0 {
						msg = msg[i+2:]
					}
					fail("transport: " + msg)
					continue
				}
				ttfb := time.Since(t0)
				buf.Reset()
				_, readErr := io.Copy(&buf, res.Body)
				res.Body.Close()
				inFlight.Add(-1)
				latencies[w] = append(latencies[w], ms(time.Since(t0)))
				ttfbs[w] = append(ttfbs[w], ms(ttfb))
				switch {
				case readErr != nil:
					fail("read: " + readErr.Error())
				case res.StatusCode != http.StatusOK:
					fail(fmt.Sprintf("status %d", res.StatusCode))
				case *stream && !bytes.HasSuffix(bytes.TrimRight(buf.Bytes(), "\r\n "), done):
					fail("stream without [DONE]")
				default:
					okCount.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	var all, allTTFB []float64
	for w := range latencies {
		all = append(all, latencies[w]...)
		allTTFB = append(allTTFB, ttfbs[w]...)
	}
	sort.Float64s(all)
	sort.Float64s(allTTFB)
	sum := 0.0
	for _, v := range all {
		sum += v
	}
	r := result{
		Requests:   int64(len(all)),
		OK:         okCount.Load(),
		Errors:     errCount.Load(),
		ErrorKinds: kinds,
		Seconds:    elapsed,
		P50:        percentile(all, 50),
		P99:        percentile(all, 99),
		TTFBP50:    percentile(allTTFB, 50),
		TTFBP99:    percentile(allTTFB, 99),
		PeakOpen:   peak.Load(),
		TimedOut:   timedOut.Load(),
	}
	if len(all) > 0 {
		r.Mean = sum / float64(len(all))
		r.Max = all[len(all)-1]
		r.RPS = float64(len(all)) / elapsed
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
			cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			r.CPUMicrosPerRequest = float64(cpu.Microseconds()) / float64(len(all))
		}
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

/* PreGAN test-bed worker: real work that follows a demand the backend sets per interval.
 *
 * The backend writes one line "cpu_frac ram_mb read_mbps write_mbps net_mbit" to the demand
 * file (through /proc/<pid>/root, so no exec is needed); the worker re-reads it every TICK_MS
 * and within each tick: keeps ram_mb resident (an mmap of incompressible pages, touched every
 * tick), reads read_mbps and writes write_mbps with O_DIRECT (so the blkio throttle and its
 * counters see them), sends net_mbit of UDP to the default gateway's discard port (counted
 * on the pod's interface, shaped by its tbf), and spins until it has used cpu_frac of the
 * tick in CPU time (one thread: at most 1). It writes "ticks bytes_sent" to the counter file
 * each tick: the migration test checks the counter survives checkpoint/restore.
 * The same binary is the fault stressor (a hog, a leak, a disk writer or a flood).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 100
#define MB (1024L * 1024L)
#define DISK_FILE_MB 64 /* the disk file wraps at this size */
#define UDP_PAYLOAD 1400
#define READ_SPAN_MB 4 /* reads cycle over this much of the disk file */

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* Default gateway from /proc/net/route (little-endian hex), 0 if none. */
static in_addr_t gateway(void) {
    FILE *f = fopen("/proc/net/route", "r");
    char line[256], iface[64];
    unsigned long dest, gw;
    in_addr_t out = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%63s %lx %lx", iface, &dest, &gw) == 3 && dest == 0 && gw != 0) {
            out = (in_addr_t)gw;
            break;
        }
    fclose(f);
    return out;
}

int main(int argc, char **argv) {
    const char *demand_path = argc > 1 ? argv[1] : "/run/demand";
    const char *counter_path = argc > 2 ? argv[2] : "/run/counter";
    const char *disk_path = argc > 3 ? argv[3] : "/var/diskload";
    char counter_tmp[4096];
    snprintf(counter_tmp, sizeof counter_tmp, "%s.tmp", counter_path);
    double cpu = 0, ram_mb = 0, rd_mbps = 0, disk_mbps = 0, net_mbps = 0;
    char *mem = NULL;
    size_t mem_len = 0;
    char *block = NULL;
    long counter = 0, disk_off = 0, sent = 0, written = 0, read_off = 0;
    int disk_fd = -1;
    char payload[UDP_PAYLOAD];
    memset(payload, 'p', sizeof payload);
    if (posix_memalign((void **)&block, 4096, MB)) return 1;
    memset(block, 'd', MB);
    for (;;) {
        double t0 = now_s();
        FILE *f = fopen(demand_path, "r");
        if (f) {
            double c, r, rd, d, n;
            if (fscanf(f, "%lf %lf %lf %lf %lf", &c, &r, &rd, &d, &n) == 5) {
                cpu = c < 0 ? 0 : (c > 1 ? 1 : c);
                ram_mb = r < 0 ? 0 : r;
                rd_mbps = rd < 0 ? 0 : rd;
                disk_mbps = d < 0 ? 0 : d;
                net_mbps = n < 0 ? 0 : n;
            }
            fclose(f);
        }
        size_t want = (size_t)(ram_mb * MB) & ~(size_t)4095;
        if (want != mem_len) { /* resize the resident set: fresh mapping, every page touched */
            if (mem) munmap(mem, mem_len);
            mem = NULL;
            mem_len = 0;
            if (want) {
                mem = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (mem == MAP_FAILED) {
                    mem = NULL;
                } else { /* incompressible content, like real heaps: a checkpoint moves it all */
                    mem_len = want;
                    unsigned long x = 88172645463325252UL ^ (unsigned long)counter;
                    for (size_t i = 0; i + 8 <= mem_len; i += 8) {
                        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                        memcpy(mem + i, &x, 8);
                    }
                }
            }
        }
        for (size_t i = 0; i < mem_len; i += 4096) mem[i] = (char)counter; /* keep it resident */
        if (disk_mbps > 0 || rd_mbps > 0) {
            if (disk_fd < 0) disk_fd = open(disk_path, O_RDWR | O_CREAT | O_DIRECT, 0644);
            if (disk_fd < 0) disk_fd = open(disk_path, O_RDWR | O_CREAT | O_DSYNC, 0644);
            /* reads come back from what was written (at least READ_SPAN_MB of it, written
               first), bypassing the page cache, so the device and its throttle see them */
            while (disk_fd >= 0 && rd_mbps > 0 && written < READ_SPAN_MB * MB) {
                if (pwrite(disk_fd, block, MB, written) < 0) break;
                written += MB;
            }
            long rbytes = (long)(rd_mbps * MB * TICK_MS / 1000.0);
            while (disk_fd >= 0 && rbytes > 0 && written >= MB) {
                long n = rbytes > MB ? MB : (rbytes + 4095) & ~4095L;
                if (pread(disk_fd, block, n, read_off) < 0) break;
                read_off = (read_off + n) % (written - MB + 4096);
                rbytes -= n;
            }
            long bytes = (long)(disk_mbps * MB * TICK_MS / 1000.0);
            while (disk_fd >= 0 && bytes > 0) {
                long n = bytes > MB ? MB : (bytes + 4095) & ~4095L;
                if (pwrite(disk_fd, block, n, disk_off) < 0) break;
                disk_off = (disk_off + n) % (DISK_FILE_MB * MB);
                if (written < disk_off) written = disk_off;
                bytes -= n;
            }
        } else if (disk_fd >= 0) {
            close(disk_fd);
            disk_fd = -1;
        }
        if (net_mbps > 0) {
            /* a socket per tick: CRIU 4.1 cannot dump this kernel's UDP sockets ("Can't get
               1:16 opt"), so none stays open while the worker sleeps or spins */
            in_addr_t gw = gateway();
            int sock = socket(AF_INET, SOCK_DGRAM, 0);
            if (sock >= 0 && gw) {
                struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
                to.sin_addr.s_addr = gw;
                long bytes = (long)(net_mbps * 1e6 / 8 * TICK_MS / 1000.0);
                for (; bytes > 0; bytes -= UDP_PAYLOAD)
                    if (sendto(sock, payload, UDP_PAYLOAD, MSG_DONTWAIT, (struct sockaddr *)&to,
                               sizeof to) > 0)
                        sent += UDP_PAYLOAD;
            }
            if (sock >= 0) close(sock);
        }
        /* CPU work, not wall time: spin until the process has used cpu x tick of CPU (a
           quota or a busy machine make that take longer), or the tick is over. */
        double cpu_target = cpu_s() + cpu * TICK_MS / 1000.0, tick_end = t0 + TICK_MS / 1000.0;
        volatile unsigned long spin = 0;
        while (cpu_s() < cpu_target && now_s() < tick_end) spin++;
        counter++;
        FILE *c = fopen(counter_tmp, "w"); /* write then rename: readers never see half */
        if (c) {
            fprintf(c, "%ld %ld\n", counter, sent);
            fclose(c);
            rename(counter_tmp, counter_path);
        }
        double left = t0 + TICK_MS / 1000.0 - now_s();
        if (left > 0) {
            struct timespec ts = {(time_t)left, (long)((left - (time_t)left) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
}

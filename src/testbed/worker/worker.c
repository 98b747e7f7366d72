/* PreGAN test-bed worker: real work that follows a demand the backend sets per interval.
 *
 * The backend writes one line "cpu_frac ram_mb disk_mbps net_mbps" to DEMAND_PATH (via
 * /proc/<pid>/root, so no exec is needed); the worker re-reads it every tick and, within each
 * TICK_MS tick: busy-loops for cpu_frac of the tick (cpu_frac may exceed 1 only up to 1 here:
 * one thread), keeps ram_mb resident (touched pages of an mmap that grows and shrinks), writes
 * disk_mbps with O_DIRECT (counted by the blkio throttle) and sends net_mbps of UDP to the
 * default gateway's discard port (counted on the pod's interface). A counter of completed
 * ticks and the UDP bytes sent so far are written to COUNTER_PATH ("ticks bytes"): the
 * migration test checks the counter survives checkpoint/restore.
 * The same binary is the fault stressor ("worker hog", demand read from the given path).
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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
    double cpu = 0, ram_mb = 0, disk_mbps = 0, net_mbps = 0;
    char *mem = NULL;
    size_t mem_len = 0;
    char *block = NULL;
    long counter = 0, disk_off = 0, sent = 0;
    int disk_fd = -1, sock = -1;
    char payload[UDP_PAYLOAD];
    memset(payload, 'p', sizeof payload);
    if (posix_memalign((void **)&block, 4096, MB)) return 1;
    memset(block, 'd', MB);
    for (;;) {
        double t0 = now_s();
        FILE *f = fopen(demand_path, "r");
        if (f) {
            double c, r, d, n;
            if (fscanf(f, "%lf %lf %lf %lf", &c, &r, &d, &n) == 4) {
                cpu = c < 0 ? 0 : (c > 1 ? 1 : c);
                ram_mb = r < 0 ? 0 : r;
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
        if (disk_mbps > 0) {
            if (disk_fd < 0) disk_fd = open(disk_path, O_WRONLY | O_CREAT | O_DIRECT, 0644);
            if (disk_fd < 0) disk_fd = open(disk_path, O_WRONLY | O_CREAT | O_DSYNC, 0644);
            long bytes = (long)(disk_mbps * MB * TICK_MS / 1000.0);
            while (disk_fd >= 0 && bytes > 0) {
                long n = bytes > MB ? MB : (bytes + 4095) & ~4095L;
                if (pwrite(disk_fd, block, n, disk_off) < 0) break;
                disk_off = (disk_off + n) % (DISK_FILE_MB * MB);
                bytes -= n;
            }
        } else if (disk_fd >= 0) {
            close(disk_fd);
            disk_fd = -1;
        }
        if (net_mbps > 0) {
            in_addr_t gw = gateway();
            if (sock < 0) sock = socket(AF_INET, SOCK_DGRAM, 0);
            if (sock >= 0 && gw) {
                struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
                to.sin_addr.s_addr = gw;
                long bytes = (long)(net_mbps * 1e6 / 8 * TICK_MS / 1000.0);
                for (; bytes > 0; bytes -= UDP_PAYLOAD)
                    if (sendto(sock, payload, UDP_PAYLOAD, MSG_DONTWAIT, (struct sockaddr *)&to,
                               sizeof to) > 0)
                        sent += UDP_PAYLOAD;
            }
        } else if (sock >= 0) {
            close(sock);
            sock = -1;
        }
        double busy_until = t0 + cpu * TICK_MS / 1000.0;
        volatile unsigned long spin = 0;
        while (now_s() < busy_until) spin++;
        counter++;
        FILE *c = fopen(counter_path, "w");
        if (c) {
            fprintf(c, "%ld %ld\n", counter, sent);
            fclose(c);
        }
        double left = t0 + TICK_MS / 1000.0 - now_s();
        if (left > 0) {
            struct timespec ts = {(time_t)left, (long)((left - (time_t)left) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
}

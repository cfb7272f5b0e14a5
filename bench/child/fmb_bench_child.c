/* fmb-bench-child: a tiny stdio MCP server for benchmarks and fault drills.
 *
 * One JSON-RPC message per line on stdin, one per line on stdout (MCP
 * 2025-11-25, transports: stdio). No JSON library: a small scanner finds the
 * top-level members it needs ("id", "method", "params") and copies values as
 * raw bytes, so an echoed string keeps its escapes. About 1 MB resident.
 *
 * Methods: initialize, notifications/initialized (and every other
 * notification: ignored), ping, tools/list, tools/call "echo" (returns the
 * "text" argument, else "message"). Anything else with an id gets -32601.
 *
 * Fault options (for bench/faults/):
 *   --crash-prob P        each tools/call dies with probability P before it
 *                         answers: half _exit(3), half SIGKILL
 *   --crash-prefix TEXT   ... only calls whose text starts with TEXT
 *   --seed N              seed for --crash-prob (default: pid ^ time)
 *   --flood KIND:BYTES    a tools/call whose text is "FLOOD" first writes
 *                         BYTES of KIND to stdout, then answers normally.
 *                         KIND: long (one line of BYTES), junk (non-JSON
 *                         lines of 1 KiB), notify (valid JSON-RPC
 *                         notifications/message lines of ~1 KiB), stderr
 *                         (1 KiB lines on stderr). BYTES takes K/M/G.
 *   --flood-after         answer the "FLOOD" call first, then flood (with no
 *                         request pending, a gateway routes what follows to
 *                         the session's GET stream)
 *   --exit-on-flood       exit(0) right after the flood instead of answering
 *   --delay-us N          sleep N microseconds before each tools/call answer
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *p;
    size_t n;
} span;

static double g_crash_prob = 0.0;
static unsigned long long g_rng = 0;
static char g_flood_kind[16] = "";
static unsigned long long g_flood_bytes = 0;
static int g_exit_on_flood = 0;
static int g_flood_after = 0;
static const char *g_crash_prefix = "";
static long g_delay_us = 0;

/* ---- output ------------------------------------------------------------ */

static char *g_out = NULL;
static size_t g_out_len = 0, g_out_cap = 0;

static void out_reserve(size_t extra)
{
    if (g_out_len + extra <= g_out_cap)
        return;
    size_t cap = g_out_cap ? g_out_cap : 4096;
    while (cap < g_out_len + extra)
        cap *= 2;
    char *grown = realloc(g_out, cap);
    if (!grown)
        _exit(70);
    g_out = grown;
    g_out_cap = cap;
}

static void out_bytes(const char *p, size_t n)
{
    out_reserve(n);
    memcpy(g_out + g_out_len, p, n);
    g_out_len += n;
}

static void out_str(const char *s) { out_bytes(s, strlen(s)); }

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            _exit(0); /* the reader went away (EPIPE): nothing more to say */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void out_flush(void)
{
    write_all(1, g_out, g_out_len);
    g_out_len = 0;
}

/* ---- a minimal JSON scanner -------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        ++p;
    return p;
}

/* p at a value; returns one past its end (NULL when malformed). */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"') {
        for (++p; p < end; ++p) {
            if (*p == '\\')
                ++p;
            else if (*p == '"')
                return p + 1;
        }
        return NULL;
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; p < end; ++p) {
            if (*p == '"') {
                p = skip_value(p, end);
                if (!p)
                    return NULL;
                --p;
            } else if (*p == '{' || *p == '[') {
                ++depth;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
        }
        return NULL;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\r' &&
           *p != '\n')
        ++p;
    return p;
}

/* obj spans an object "{...}"; finds member `key` and returns its raw value. */
static int member(span obj, const char *key, span *value)
{
    const char *p = obj.p, *end = obj.p + obj.n;
    const size_t keylen = strlen(key);
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return 0;
    ++p;
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            return 0;
        const char *k = p + 1;
        const char *kend = skip_value(p, end);
        if (!kend)
            return 0;
        const int match = (size_t)(kend - 1 - k) == keylen && memcmp(k, key, keylen) == 0;
        p = skip_ws(kend, end);
        if (p >= end || *p != ':')
            return 0;
        p = skip_ws(p + 1, end);
        const char *vend = skip_value(p, end);
        if (!vend)
            return 0;
        if (match) {
            value->p = p;
            value->n = (size_t)(vend - p);
            return 1;
        }
        p = skip_ws(vend, end);
        if (p >= end || *p != ',')
            return 0;
        ++p;
    }
}

static int is_string(span v) { return v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"'; }

static int string_equals(span v, const char *s)
{
    return is_string(v) && v.n - 2 == strlen(s) && memcmp(v.p + 1, s, v.n - 2) == 0;
}

/* ---- faults ------------------------------------------------------------- */

static double next_random(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / 9007199254740992.0;
}

static void flood(void)
{
    static char block[1024];
    unsigned long long left = g_flood_bytes;
    if (strcmp(g_flood_kind, "long") == 0) {
        static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":"
                                   "{\"level\":\"info\",\"data\":\"";
        memset(block, 'x', sizeof block);
        write_all(1, head, sizeof head - 1);
        while (left > 0) {
            size_t n = left < sizeof block ? (size_t)left : sizeof block;
            write_all(1, block, n);
            left -= n;
        }
        write_all(1, "\"}}\n", 4);
    } else if (strcmp(g_flood_kind, "junk") == 0 || strcmp(g_flood_kind, "stderr") == 0) {
        const int fd = g_flood_kind[0] == 's' ? 2 : 1;
        memset(block, '#', sizeof block);
        block[sizeof block - 1] = '\n';
        while (left > 0) {
            size_t n = left < sizeof block ? (size_t)left : sizeof block;
            block[n - 1] = '\n';
            write_all(fd, block, n);
            block[n - 1] = '#';
            left -= n;
        }
        block[sizeof block - 1] = '\n';
    } else if (strcmp(g_flood_kind, "notify") == 0) {
        static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":"
                                   "{\"level\":\"info\",\"data\":\"";
        static const char tail[] = "\"}}\n";
        char line[1024];
        const size_t fill = sizeof line - (sizeof head - 1) - (sizeof tail - 1);
        memcpy(line, head, sizeof head - 1);
        memset(line + sizeof head - 1, 'n', fill);
        memcpy(line + sizeof head - 1 + fill, tail, sizeof tail - 1);
        while (left > 0) {
            write_all(1, line, sizeof line);
            left = left > sizeof line ? left - sizeof line : 0;
        }
    }
}

/* ---- requests ----------------------------------------------------------- */

static void reply_head(span id)
{
    out_str("{\"jsonrpc\":\"2.0\",\"id\":");
    out_bytes(id.p, id.n);
    out_str(",\"result\":");
}

static void reply_error(span id, int code, const char *message)
{
    char buf[64];
    out_str("{\"jsonrpc\":\"2.0\",\"id\":");
    out_bytes(id.p, id.n);
    snprintf(buf, sizeof buf, ",\"error\":{\"code\":%d,\"message\":\"", code);
    out_str(buf);
    out_str(message);
    out_str("\"}}\n");
}

static void handle_line(const char *line, size_t len)
{
    const span msg = {line, len};
    span method, id, params = {"{}", 2};
    if (!member(msg, "method", &method) || !is_string(method))
        return; /* a response or not JSON-RPC: nothing to answer */
    if (!member(msg, "id", &id))
        return; /* a notification (notifications/initialized, cancelled, ...) */
    (void)member(msg, "params", &params);

    if (string_equals(method, "initialize")) {
        span version;
        reply_head(id);
        out_str("{\"protocolVersion\":");
        if (member(params, "protocolVersion", &version) && is_string(version))
            out_bytes(version.p, version.n);
        else
            out_str("\"2025-06-18\"");
        out_str(",\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"fmb-bench-child\","
                "\"version\":\"1.0.0\"}}}\n");
    } else if (string_equals(method, "ping")) {
        reply_head(id);
        out_str("{}}\n");
    } else if (string_equals(method, "tools/list")) {
        reply_head(id);
        out_str("{\"tools\":[{\"name\":\"echo\",\"description\":\"Returns the text argument\","
                "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
                "\"required\":[\"text\"]}}]}}\n");
    } else if (string_equals(method, "tools/call")) {
        span name, args, text = {"\"\"", 2};
        if (!member(params, "name", &name) || !string_equals(name, "echo")) {
            reply_error(id, -32602, "Unknown tool");
            return;
        }
        if (member(params, "arguments", &args) &&
            !(member(args, "text", &text) && is_string(text)) &&
            !(member(args, "message", &text) && is_string(text)))
            text = (span){"\"\"", 2};
        const size_t prefix_len = strlen(g_crash_prefix);
        const int crashable = text.n >= prefix_len + 2 && memcmp(text.p + 1, g_crash_prefix, prefix_len) == 0;
        if (g_crash_prob > 0.0 && crashable && next_random() < g_crash_prob) {
            out_flush();
            if (next_random() < 0.5)
                _exit(3);
            raise(SIGKILL);
        }
        const int flooding = g_flood_bytes > 0 && string_equals(text, "FLOOD");
        if (flooding && !g_flood_after) {
            out_flush();
            flood();
            if (g_exit_on_flood)
                _exit(0);
        }
        if (g_delay_us > 0) {
            out_flush();
            usleep((useconds_t)g_delay_us);
        }
        reply_head(id);
        out_str("{\"content\":[{\"type\":\"text\",\"text\":");
        out_bytes(text.p, text.n);
        out_str("}]}}\n");
        if (flooding && g_flood_after) {
            out_flush();
            flood();
            if (g_exit_on_flood)
                _exit(0);
        }
    } else {
        reply_error(id, -32601, "Method not found");
    }
}

static unsigned long long parse_size(const char *s)
{
    char *end = NULL;
    unsigned long long n = strtoull(s, &end, 10);
    if (end && (*end == 'K' || *end == 'k'))
        n <<= 10;
    else if (end && (*end == 'M' || *end == 'm'))
        n <<= 20;
    else if (end && (*end == 'G' || *end == 'g'))
        n <<= 30;
    return n;
}

int main(int argc, char **argv)
{
    unsigned long long seed = (unsigned long long)getpid() ^ ((unsigned long long)time(NULL) << 20);
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--crash-prob") == 0 && i + 1 < argc) {
            g_crash_prob = atof(argv[++i]);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--flood") == 0 && i + 1 < argc) {
            const char *arg = argv[++i];
            const char *colon = strchr(arg, ':');
            if (!colon || (size_t)(colon - arg) >= sizeof g_flood_kind) {
                fprintf(stderr, "fmb-bench-child: --flood wants KIND:BYTES, got %s\n", arg);
                return 2;
            }
            memcpy(g_flood_kind, arg, (size_t)(colon - arg));
            g_flood_kind[colon - arg] = '\0';
            g_flood_bytes = parse_size(colon + 1);
        } else if (strcmp(argv[i], "--crash-prefix") == 0 && i + 1 < argc) {
            g_crash_prefix = argv[++i];
        } else if (strcmp(argv[i], "--flood-after") == 0) {
            g_flood_after = 1;
        } else if (strcmp(argv[i], "--exit-on-flood") == 0) {
            g_exit_on_flood = 1;
        } else if (strcmp(argv[i], "--delay-us") == 0 && i + 1 < argc) {
            g_delay_us = atol(argv[++i]);
        } else {
            fprintf(stderr, "fmb-bench-child: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    g_rng = seed ? seed * 0x9E3779B97F4A7C15ULL : 1;
    signal(SIGPIPE, SIG_IGN);

    /* Read in blocks and answer every complete line before the next read(),
     * writing all answers of one block with one write(). */
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return 70;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            char *grown = realloc(buf, cap);
            if (!grown)
                return 70;
            buf = grown;
        }
        ssize_t r = read(0, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* EOF: the client closed our input (MCP stdio shutdown) */
        const size_t scanned = len;
        len += (size_t)r;
        size_t start = 0;
        for (size_t i = scanned; i < len; ++i) {
            if (buf[i] != '\n')
                continue;
            if (i > start)
                handle_line(buf + start, i - start);
            start = i + 1;
        }
        out_flush();
        memmove(buf, buf + start, len - start);
        len -= start;
        if (cap > 1024 * 1024 && len < 64 * 1024) {
            char *shrunk = realloc(buf, 64 * 1024);
            if (shrunk) {
                buf = shrunk;
                cap = 64 * 1024;
            }
        }
    }
    out_flush();
    return 0;
}

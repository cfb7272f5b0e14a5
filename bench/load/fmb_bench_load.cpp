// fmb-bench-load: a closed-loop load generator for MCP servers, without an MCP SDK.
//
// http   speaks MCP Streamable HTTP (2025-03-26 and later) over keep-alive
//        connections, one per concurrent session, driven by one epoll loop.
// stdio  spawns the stdio server itself (posix_spawn) and speaks JSON lines
//        over pipes: the floor a gateway is measured against.
// idle   opens sessions (initialize + notifications/initialized) and holds
//        them until its stdin closes.
//
// Per session: initialize, notifications/initialized, --calls sequential
// tools/call, DELETE (stdio: close the child's stdin). Sessions run
// --concurrency at a time, either --sessions in total or for --duration
// seconds. With --protocol 2026-07-28 (http only) there is no session: each
// worker is a client sending its tools/call POSTs as that revision wants
// them (MCP-Protocol-Version, Mcp-Method, Mcp-Name, params._meta). The last line on stdout is one JSON object
// with the results; run with --help for the options.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

namespace {

// SIGTERM/SIGINT: end the run now, DELETE the sessions, report (background control loads).
volatile sig_atomic_t g_stopRequested = 0;

void requestStop(int)
{
    g_stopRequested = 1;
}

int64_t nowNs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t cpuNs(int who)
{
    rusage usage{};
    getrusage(who, &usage);
    return (int64_t(usage.ru_utime.tv_sec) + usage.ru_stime.tv_sec) * 1000000000 +
           (int64_t(usage.ru_utime.tv_usec) + usage.ru_stime.tv_usec) * 1000;
}

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

bool iequalsPrefix(std::string_view line, std::string_view name)
{
    if (line.size() <= name.size() || line[name.size()] != ':')
        return false;
    for (size_t i = 0; i < name.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) != name[i])
            return false;
    }
    return true;
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

struct Options {
    std::string mode;
    std::string host = "127.0.0.1";
    int port = 0;
    std::string path = "/mcp";
    std::vector<std::string> command;
    int concurrency = 1;
    long sessions = 0;
    double duration = 0;
    int calls = 100;
    int payload = 32;
    std::string tool = "echo";
    std::string argName = "text";
    std::string protocol = "2025-06-18";
    double timeout = 30;
    bool deleteOnExit = false;
    bool confirmCrash = false;
    std::string label;
    std::string textPrefix;
    std::string bearer; // from --bearer-file: "Authorization: Bearer" on every request
};

// ---- results -------------------------------------------------------------

struct Stats {
    std::vector<int64_t> callNs;
    std::vector<int64_t> setupNs;
    uint64_t callsOk = 0;
    uint64_t callsInWindow = 0;
    uint64_t requests = 0; // HTTP requests or stdio lines sent
    uint64_t sessionsStarted = 0;
    uint64_t sessionsOk = 0;    // initialize answered
    uint64_t sessionsEnded = 0; // DELETE answered (or stdin closed)
    uint64_t retryAfter = 0;    // 503 answers that carried Retry-After
    uint64_t rpcErrors = 0;     // a tools/call answered with a JSON-RPC error
    uint64_t confirmed404 = 0;  // ... and the next request on that session got 404
    std::map<std::string, uint64_t> errors;
    std::map<int, uint64_t> statuses;
    int64_t childCpuNs = 0; // stdio: reaped children
    uint64_t childrenReaped = 0;

    void error(const std::string &kind) { ++errors[kind]; }
    uint64_t errorCount() const
    {
        uint64_t n = 0;
        for (const auto &[kind, count] : errors)
            n += count;
        return n;
    }
};

std::string percentiles(std::vector<int64_t> values)
{
    if (values.empty())
        return "null";
    std::sort(values.begin(), values.end());
    auto at = [&](double q) {
        size_t i = size_t(std::ceil(q * double(values.size()))) - 1;
        return double(values[std::min(i, values.size() - 1)]) / 1000.0;
    };
    double sum = 0;
    for (int64_t v : values)
        sum += double(v);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"n\":%zu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"mean\":%.1f}",
                  values.size(), at(0.50), at(0.90), at(0.99), double(values.back()) / 1000.0,
                  sum / double(values.size()) / 1000.0);
    return buf;
}

// ---- HTTP/1.1 response parser (Content-Length, chunked, until-close) -----

struct Response {
    int status = 0;
    bool close = false;
    bool retryAfter = false;
    std::string sessionId;
    std::string contentType;
    std::string body;
};

class ResponseParser {
public:
    // Consumes from `in`; true once a whole response is there.
    bool feed(std::string &in, bool eof)
    {
        for (;;) {
            switch (m_state) {
            case State::Head: {
                const size_t end = in.find("\r\n\r\n");
                if (end == std::string::npos)
                    return false;
                parseHead(std::string_view(in).substr(0, end));
                in.erase(0, end + 4);
                if (m_response.status == 204 || m_response.status == 304 || m_response.status < 200)
                    m_state = State::Done;
                else if (m_chunked)
                    m_state = State::ChunkSize;
                else if (m_length >= 0)
                    m_state = State::Length;
                else
                    m_state = State::UntilClose;
                break;
            }
            case State::Length: {
                const size_t take = std::min<size_t>(in.size(), size_t(m_length));
                m_response.body.append(in, 0, take);
                in.erase(0, take);
                m_length -= int64_t(take);
                if (m_length > 0)
                    return false;
                m_state = State::Done;
                break;
            }
            case State::ChunkSize: {
                const size_t end = in.find("\r\n");
                if (end == std::string::npos)
                    return false;
                m_length = int64_t(std::strtoll(in.c_str(), nullptr, 16));
                in.erase(0, end + 2);
                m_state = m_length == 0 ? State::Trailer : State::ChunkData;
                break;
            }
            case State::ChunkData: {
                if (int64_t(in.size()) < m_length + 2)
                    return false;
                m_response.body.append(in, 0, size_t(m_length));
                in.erase(0, size_t(m_length) + 2);
                m_state = State::ChunkSize;
                break;
            }
            case State::Trailer: {
                const size_t end = in.find("\r\n");
                if (end == std::string::npos)
                    return false;
                in.erase(0, end + 2);
                if (end == 0)
                    m_state = State::Done;
                break;
            }
            case State::UntilClose:
                m_response.body.append(in);
                in.clear();
                if (!eof)
                    return false;
                m_response.close = true;
                m_state = State::Done;
                break;
            case State::Done:
                return true;
            }
        }
    }

    // Bytes of a response seen so far (for errors).
    bool started() const { return m_state != State::Head; }
    Response take()
    {
        Response out = std::move(m_response);
        *this = ResponseParser();
        return out;
    }

private:
    enum class State { Head, Length, ChunkSize, ChunkData, Trailer, UntilClose, Done };

    void parseHead(std::string_view head)
    {
        size_t pos = head.find("\r\n");
        const std::string_view statusLine = head.substr(0, pos);
        const size_t space = statusLine.find(' ');
        if (space != std::string_view::npos)
            m_response.status = std::atoi(std::string(statusLine.substr(space + 1, 3)).c_str());
        if (statusLine.substr(0, 8) == "HTTP/1.0")
            m_response.close = true;
        while (pos != std::string_view::npos) {
            const size_t next = head.find("\r\n", pos + 2);
            const std::string_view line = head.substr(
                pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
            pos = next;
            const size_t colon = line.find(':');
            if (colon == std::string_view::npos)
                continue;
            const std::string_view value = trim(line.substr(colon + 1));
            if (iequalsPrefix(line, "content-length"))
                m_length = std::atoll(std::string(value).c_str());
            else if (iequalsPrefix(line, "transfer-encoding"))
                m_chunked = contains(value, "chunked");
            else if (iequalsPrefix(line, "connection"))
                m_response.close = m_response.close || contains(value, "close");
            else if (iequalsPrefix(line, "mcp-session-id"))
                m_response.sessionId = std::string(value);
            else if (iequalsPrefix(line, "content-type"))
                m_response.contentType = std::string(value);
            else if (iequalsPrefix(line, "retry-after"))
                m_response.retryAfter = true;
        }
    }

    State m_state = State::Head;
    bool m_chunked = false;
    int64_t m_length = -1;
    Response m_response;
};

// ---- requests --------------------------------------------------------------

std::string jsonText(const Options &o, const std::string &marker)
{
    std::string text = marker;
    if (int(text.size()) < o.payload)
        text.append(size_t(o.payload) - text.size(), 'x');
    return text;
}

std::string initializeBody(const Options &o, long id)
{
    return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) +
           ",\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"" + o.protocol +
           "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"fmb-bench-load\",\"version\":\"1.0.0\"}}}";
}

std::string initializedBody()
{
    return "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
}

// MCP 2026-07-28 has no initialize: every request says who asks.
bool stateless(const Options &o)
{
    return o.protocol >= "2026-07-28";
}

std::string callBody(const Options &o, long id, const std::string &marker)
{
    const std::string meta = stateless(o)
                                 ? ",\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"" + o.protocol +
                                       "\",\"io.modelcontextprotocol/clientCapabilities\":{}}"
                                 : std::string();
    return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) +
           ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + o.tool + "\",\"arguments\":{\"" +
           o.argName + "\":\"" + jsonText(o, marker) + "\"}" + meta + "}}";
}

// ---- the driver ------------------------------------------------------------

enum class Step { Init, Notify, Call, Confirm, Delete, Done };

struct Worker {
    int index = 0;
    uint32_t generation = 0;
    Step step = Step::Done;
    long serial = 0; // this worker's session counter
    int call = 0;
    std::string sessionId;
    std::string marker;
    int64_t sentNs = 0;
    int64_t sessionStartNs = 0;
    bool busy = false;  // a request is in flight
    bool ready = false; // has had its first session

    // http
    int fd = -1;
    bool connecting = false;
    bool watchingOut = false;
    std::string out;
    std::string in;
    ResponseParser parser;

    // stdio
    pid_t pid = 0;
    int stdinFd = -1;
    int stdoutFd = -1;
    std::string lineBuf;
};

class Driver {
public:
    explicit Driver(Options options)
        : m_o(std::move(options))
    {
        m_epoll = epoll_create1(EPOLL_CLOEXEC);
        m_workers.resize(size_t(std::max(1, m_o.concurrency)));
        for (size_t i = 0; i < m_workers.size(); ++i)
            m_workers[i].index = int(i);
        std::memset(&m_addr, 0, sizeof m_addr);
        m_addr.sin_family = AF_INET;
        m_addr.sin_port = htons(uint16_t(m_o.port));
        inet_pton(AF_INET, m_o.host.c_str(), &m_addr.sin_addr);
        m_hostHeader = m_o.host + ":" + std::to_string(m_o.port);
    }

    // Runs sessions until --sessions or --duration is used up.
    void run()
    {
        m_startNs = nowNs();
        // With --duration, the clock starts once every worker has its first
        // session: the window measures steady state, not the ramp.
        if (m_o.duration <= 0)
            m_windowNs = m_startNs;
        m_cpuStart = cpuNs(RUSAGE_SELF);
        for (Worker &w : m_workers)
            startSession(w);
        loop();
        m_finishedNs = nowNs();
        m_cpuEnd = cpuNs(RUSAGE_SELF);
        reapChildren(true);
    }

    // idle: DELETE every session held.
    void deleteHeld()
    {
        m_deleting = true;
        m_o.deleteOnExit = false;
        for (Worker &w : m_workers)
            nextDelete(w);
        loop();
    }

    std::string report(const char *phase) const
    {
        const int64_t windowStart = m_windowNs > 0 ? m_windowNs : m_startNs;
        const double wall = double(std::min(m_finishedNs, m_endNs) - windowStart) / 1e9;
        const double ramp = double(windowStart - m_startNs) / 1e9;
        const uint64_t calls = m_o.duration > 0 ? m_stats.callsInWindow : m_stats.callsOk;
        std::string errors = "{";
        for (const auto &[kind, count] : m_stats.errors) {
            if (errors.size() > 1)
                errors += ",";
            errors += "\"" + kind + "\":" + std::to_string(count);
        }
        errors += "}";
        std::string statuses = "{";
        for (const auto &[status, count] : m_stats.statuses) {
            if (statuses.size() > 1)
                statuses += ",";
            statuses += "\"" + std::to_string(status) + "\":" + std::to_string(count);
        }
        statuses += "}";
        const double cpuUs = double(m_cpuEnd - m_cpuStart) / 1000.0;
        char head[1024];
        std::snprintf(
            head, sizeof head,
            "{\"phase\":\"%s\",\"label\":\"%s\",\"mode\":\"%s\",\"concurrency\":%d,\"calls_per_session\":%d,"
            "\"payload\":%d,\"ramp_s\":%.3f,\"wall_s\":%.3f,\"calls_ok\":%" PRIu64
            ",\"throughput\":%.1f,\"requests\":%" PRIu64 ",\"sessions_started\":%" PRIu64
            ",\"sessions_ok\":%" PRIu64 ",\"sessions_ended\":%" PRIu64 ",\"error_count\":%" PRIu64
            ",\"rpc_errors\":%" PRIu64 ",\"confirmed_404\":%" PRIu64 ",\"retry_after\":%" PRIu64
            ",\"client_cpu_us\":%.0f,\"client_cpu_us_per_request\":%.2f"
            ",\"child_cpu_us\":%.0f,\"children_reaped\":%" PRIu64 ",\"held\":%zu,",
            phase, m_o.label.c_str(), m_o.mode.c_str(), m_o.concurrency, m_o.calls, m_o.payload, ramp, wall,
            calls, wall > 0 ? double(calls) / wall : 0.0, m_stats.requests, m_stats.sessionsStarted,
            m_stats.sessionsOk, m_stats.sessionsEnded, m_stats.errorCount(), m_stats.rpcErrors,
            m_stats.confirmed404, m_stats.retryAfter, cpuUs,
            m_stats.requests ? cpuUs / double(m_stats.requests) : 0.0, double(m_stats.childCpuNs) / 1000.0,
            m_stats.childrenReaped, m_held.size());
        return std::string(head) + "\"errors\":" + errors + ",\"statuses\":" + statuses +
               ",\"latency_us\":" + percentiles(m_stats.callNs) +
               ",\"setup_us\":" + percentiles(m_stats.setupNs) + "}";
    }

    const Stats &stats() const { return m_stats; }

private:
    bool http() const { return m_o.mode != "stdio"; }
    bool idle() const { return m_o.mode == "idle"; }

    uint64_t tag(const Worker &w) const { return (uint64_t(w.generation) << 32) | uint32_t(w.index); }

    void loop()
    {
        epoll_event events[256];
        for (;;) {
            bool anyActive = false;
            for (const Worker &w : m_workers)
                anyActive = anyActive || w.step != Step::Done;
            if (!anyActive)
                return;
            const int n = epoll_wait(m_epoll, events, 256, 20);
            for (int i = 0; i < n; ++i) {
                const uint32_t index = uint32_t(events[i].data.u64);
                const uint32_t generation = uint32_t(events[i].data.u64 >> 32);
                if (index >= m_workers.size())
                    continue;
                Worker &w = m_workers[index];
                if (w.generation != generation)
                    continue; // an event for a descriptor closed meanwhile
                if (http())
                    onHttpEvent(w, events[i].events);
                else
                    onStdioEvent(w, events[i].events);
            }
            const int64_t now = nowNs();
            if (g_stopRequested && m_endNs > now) {
                if (m_windowNs == 0)
                    startWindow();
                m_endNs = now;
            }
            if (now - m_lastSweepNs > 100000000) {
                m_lastSweepNs = now;
                for (Worker &w : m_workers) {
                    if (w.busy && now - w.sentNs > int64_t(m_o.timeout * 1e9)) {
                        m_stats.error(std::string("timeout_") + stepName(w.step));
                        abandon(w);
                    }
                }
                if (!http())
                    reapChildren(false);
                if (m_windowNs == 0 && now - m_startNs > 60000000000LL)
                    startWindow(); // some worker never got a session: measure anyway
            }
        }
    }

    static const char *stepName(Step step)
    {
        switch (step) {
        case Step::Init:
            return "initialize";
        case Step::Notify:
            return "initialized";
        case Step::Call:
            return "call";
        case Step::Confirm:
            return "confirm";
        case Step::Delete:
            return "delete";
        case Step::Done:
            return "done";
        }
        return "?";
    }

    void startWindow()
    {
        if (m_windowNs != 0)
            return;
        m_windowNs = nowNs();
        m_endNs = m_windowNs + int64_t(m_o.duration * 1e9);
    }

    // A worker's first session is up (or it gave up): the window opens when all are.
    void markReady(Worker &w)
    {
        if (w.ready)
            return;
        w.ready = true;
        if (++m_readyWorkers == m_workers.size())
            startWindow();
    }

    bool mayStartSession() const
    {
        if (m_deleting)
            return false;
        if (nowNs() >= m_endNs)
            return false;
        if (m_o.sessions > 0 && long(m_stats.sessionsStarted) >= m_o.sessions)
            return false;
        return m_o.sessions > 0 || m_o.duration > 0;
    }

    void startSession(Worker &w)
    {
        if (!mayStartSession()) {
            finishWorker(w);
            return;
        }
        ++m_stats.sessionsStarted;
        ++w.serial;
        w.step = Step::Init;
        w.call = 0;
        w.sessionId.clear();
        w.sessionStartNs = nowNs();
        if (http() && stateless(m_o)) {
            ++m_stats.sessionsOk; // nothing to set up
            markReady(w);
            sendCall(w);
        } else if (http()) {
            sendHttp(w, "POST", initializeBody(m_o, 0), false);
        } else if (spawnChild(w)) {
            sendLine(w, initializeBody(m_o, 0));
        } else {
            m_stats.error("spawn_failed");
            finishWorker(w);
        }
    }

    void finishWorker(Worker &w)
    {
        markReady(w);
        w.step = Step::Done;
        w.busy = false;
        if (http())
            closeSocket(w);
        else
            closeChild(w);
    }

    // A request failed in a way that leaves the session unusable: start over.
    void abandon(Worker &w)
    {
        w.busy = false;
        if (http())
            closeSocket(w);
        else
            closeChild(w);
        if (m_deleting)
            nextDelete(w);
        else
            startSession(w);
    }

    void afterCall(Worker &w)
    {
        ++w.call;
        if (w.call < m_o.calls && nowNs() < m_endNs)
            sendCall(w);
        else
            endSession(w);
    }

    void sendCall(Worker &w)
    {
        w.step = Step::Call;
        w.marker = m_o.textPrefix + "w" + std::to_string(w.index) + "s" + std::to_string(w.serial) + "c" +
                   std::to_string(w.call);
        const std::string body = callBody(m_o, w.call + 1, w.marker);
        if (http())
            sendHttp(w, "POST", body, true);
        else
            sendLine(w, body);
    }

    void endSession(Worker &w)
    {
        if (idle()) {
            m_held.push_back(w.sessionId);
            startSession(w);
            return;
        }
        w.step = Step::Delete;
        if (http() && stateless(m_o)) {
            ++m_stats.sessionsEnded; // nothing to end
            startSession(w);
        } else if (http()) {
            sendHttp(w, "DELETE", std::string(), true);
        } else {
            closeChild(w);
            ++m_stats.sessionsEnded;
            startSession(w);
        }
    }

    void nextDelete(Worker &w)
    {
        if (m_held.empty()) {
            finishWorker(w);
            return;
        }
        w.sessionId = m_held.back();
        m_held.pop_back();
        w.step = Step::Delete;
        sendHttp(w, "DELETE", std::string(), true);
    }

    // ---- http ----

    void closeSocket(Worker &w)
    {
        if (w.fd >= 0) {
            close(w.fd);
            w.fd = -1;
        }
        ++w.generation;
        w.connecting = false;
        w.in.clear();
        w.out.clear();
        w.parser = ResponseParser();
    }

    bool connectSocket(Worker &w)
    {
        w.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (w.fd < 0) {
            m_stats.error("socket");
            return false;
        }
        int one = 1;
        setsockopt(w.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ++w.generation;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
        ev.data.u64 = tag(w);
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, w.fd, &ev);
        w.watchingOut = true;
        if (connect(w.fd, reinterpret_cast<sockaddr *>(&m_addr), sizeof m_addr) == 0) {
            w.connecting = false;
        } else if (errno == EINPROGRESS) {
            w.connecting = true;
        } else {
            m_stats.error("connect");
            closeSocket(w);
            return false;
        }
        return true;
    }

    void sendHttp(Worker &w, const char *method, const std::string &body, bool withSession)
    {
        std::string request;
        request.reserve(body.size() + 320);
        request.append(method)
            .append(" ")
            .append(m_o.path)
            .append(" HTTP/1.1\r\nHost: ")
            .append(m_hostHeader);
        request.append("\r\nAccept: application/json, text/event-stream\r\n");
        if (!m_o.bearer.empty())
            request.append("Authorization: Bearer ").append(m_o.bearer).append("\r\n");
        if (stateless(m_o)) {
            request.append("MCP-Protocol-Version: ").append(m_o.protocol).append("\r\n");
            request.append("Mcp-Method: tools/call\r\nMcp-Name: ").append(m_o.tool).append("\r\n");
        } else if (withSession) {
            request.append("Mcp-Session-Id: ").append(w.sessionId).append("\r\n");
            request.append("MCP-Protocol-Version: ").append(m_o.protocol).append("\r\n");
        }
        if (!body.empty()) {
            request.append("Content-Type: application/json\r\nContent-Length: ")
                .append(std::to_string(body.size()))
                .append("\r\n\r\n")
                .append(body);
        } else {
            request.append("\r\n");
        }
        w.busy = true;
        w.sentNs = nowNs();
        ++m_stats.requests;
        w.out = std::move(request);
        if (w.fd < 0 && !connectSocket(w)) {
            w.busy = false;
            usleep(10000); // nobody listening: do not spin
            if (m_deleting)
                nextDelete(w);
            else
                startSession(w); // counted as an error already; the loop goes on
            return;
        }
        if (!w.connecting)
            flushOut(w);
    }

    void watchOut(Worker &w, bool on)
    {
        if (w.watchingOut == on)
            return;
        w.watchingOut = on;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
        ev.data.u64 = tag(w);
        epoll_ctl(m_epoll, EPOLL_CTL_MOD, w.fd, &ev);
    }

    void flushOut(Worker &w)
    {
        while (!w.out.empty()) {
            const ssize_t n = ::send(w.fd, w.out.data(), w.out.size(), MSG_NOSIGNAL);
            if (n > 0) {
                w.out.erase(0, size_t(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                watchOut(w, true); // EPOLLOUT brings us back
                return;
            }
            m_stats.error(std::string("send_") + stepName(w.step));
            abandon(w);
            return;
        }
    }

    void onHttpEvent(Worker &w, uint32_t events)
    {
        if (w.connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(w.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                m_stats.error("connect");
                usleep(10000); // nobody listening: do not spin
                abandon(w);
                return;
            }
            w.connecting = false;
        }
        if (w.fd < 0)
            return;
        if ((events & EPOLLOUT) && !w.out.empty())
            flushOut(w);
        if (w.fd >= 0 && w.out.empty())
            watchOut(w, false); // stop asking for EPOLLOUT once everything is sent
        if (w.fd < 0 || !(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            return;
        bool eof = false;
        char buf[65536];
        for (;;) {
            const ssize_t n = ::recv(w.fd, buf, sizeof buf, 0);
            if (n > 0) {
                w.in.append(buf, size_t(n));
                if (size_t(n) < sizeof buf)
                    break;
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR))
                eof = true;
            break;
        }
        if (w.busy && w.parser.feed(w.in, eof)) {
            Response response = w.parser.take();
            const bool close = response.close || eof;
            if (close)
                closeSocket(w);
            onResponse(w, std::move(response));
            return;
        }
        if (eof) {
            if (w.busy) {
                m_stats.error(std::string("closed_") + stepName(w.step));
                abandon(w);
            } else {
                closeSocket(w);
            }
        }
    }

    void onResponse(Worker &w, Response response)
    {
        const int64_t elapsed = nowNs() - w.sentNs;
        w.busy = false;
        ++m_stats.statuses[response.status];
        switch (w.step) {
        case Step::Init:
            if (response.status == 200 && !response.sessionId.empty() &&
                contains(response.body, "\"protocolVersion\"")) {
                ++m_stats.sessionsOk;
                m_stats.setupNs.push_back(elapsed);
                markReady(w);
                w.sessionId = response.sessionId;
                w.step = Step::Notify;
                sendHttp(w, "POST", initializedBody(), true);
            } else {
                if (response.status == 503 && response.retryAfter)
                    ++m_stats.retryAfter;
                m_stats.error("initialize_" + std::to_string(response.status));
                startSession(w);
            }
            return;
        case Step::Notify:
            if (response.status != 202 && response.status != 200 && response.status != 204) {
                m_stats.error("initialized_" + std::to_string(response.status));
                startSession(w);
                return;
            }
            if (m_o.calls > 0 && !idle())
                sendCall(w);
            else
                endSession(w);
            return;
        case Step::Call:
            onCallAnswer(w, response.status, response.body, elapsed);
            return;
        case Step::Confirm:
            if (response.status == 404)
                ++m_stats.confirmed404;
            else
                m_stats.error("after_crash_" + std::to_string(response.status));
            startSession(w);
            return;
        case Step::Delete:
            if (response.status == 200 || response.status == 202 || response.status == 204)
                ++m_stats.sessionsEnded;
            else
                m_stats.error("delete_" + std::to_string(response.status));
            if (m_deleting)
                nextDelete(w);
            else
                startSession(w);
            return;
        case Step::Done:
            return;
        }
    }

    void onCallAnswer(Worker &w, int status, const std::string &body, int64_t elapsed)
    {
        if (status == 200 && contains(body, w.marker) && !contains(body, "\"error\"")) {
            ++m_stats.callsOk;
            if (m_windowNs > 0 && nowNs() <= m_endNs) {
                ++m_stats.callsInWindow;
                m_stats.callNs.push_back(elapsed);
            }
            afterCall(w);
            return;
        }
        if (status == 200 && contains(body, "\"error\"")) {
            // The server ended before answering (a crashed child): the broker
            // must say so with a JSON-RPC error, then 404 on the session.
            ++m_stats.rpcErrors;
            if (m_o.confirmCrash && http()) {
                w.step = Step::Confirm;
                w.marker = "confirm";
                sendHttp(w, "POST", callBody(m_o, 999999, w.marker), true);
            } else {
                if (!m_o.confirmCrash)
                    m_stats.error("rpc_error");
                if (!http())
                    closeChild(w);
                startSession(w);
            }
            return;
        }
        m_stats.error(status == 200 ? std::string("bad_body") : "call_" + std::to_string(status));
        if (status == 404 || status >= 500 || !http()) {
            if (!http())
                closeChild(w);
            startSession(w);
        } else {
            afterCall(w);
        }
    }

    // ---- stdio ----

    bool spawnChild(Worker &w)
    {
        int in[2];
        int out[2];
        if (pipe2(in, O_CLOEXEC) != 0)
            return false;
        if (pipe2(out, O_CLOEXEC) != 0) {
            close(in[0]);
            close(in[1]);
            return false;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], 0);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        std::vector<char *> argv;
        for (std::string &arg : m_o.command)
            argv.push_back(arg.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(in[0]);
        close(out[1]);
        if (rc != 0) {
            close(in[1]);
            close(out[0]);
            return false;
        }
        w.pid = pid;
        w.stdinFd = in[1];
        w.stdoutFd = out[0];
        fcntl(w.stdoutFd, F_SETFL, fcntl(w.stdoutFd, F_GETFL) | O_NONBLOCK);
        w.lineBuf.clear();
        ++w.generation;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = tag(w);
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, w.stdoutFd, &ev);
        return true;
    }

    // MCP stdio shutdown: close the server's input; it exits; reaped later.
    void closeChild(Worker &w)
    {
        if (w.stdinFd >= 0)
            close(w.stdinFd);
        if (w.stdoutFd >= 0)
            close(w.stdoutFd);
        w.stdinFd = w.stdoutFd = -1;
        ++w.generation;
        if (w.pid > 0)
            m_reap.push_back(w.pid);
        w.pid = 0;
        w.busy = false;
    }

    void reapChildren(bool block)
    {
        auto it = m_reap.begin();
        const int64_t deadline = nowNs() + 10000000000LL;
        while (it != m_reap.end()) {
            int status = 0;
            rusage usage{};
            const pid_t r = wait4(*it, &status, block ? 0 : WNOHANG, &usage);
            if (r == *it || (r < 0 && errno == ECHILD)) {
                if (r == *it) {
                    ++m_stats.childrenReaped;
                    m_stats.childCpuNs +=
                        (int64_t(usage.ru_utime.tv_sec) + usage.ru_stime.tv_sec) * 1000000000 +
                        (int64_t(usage.ru_utime.tv_usec) + usage.ru_stime.tv_usec) * 1000;
                }
                it = m_reap.erase(it);
            } else if (block && nowNs() > deadline) {
                kill(*it, SIGKILL);
            } else {
                ++it;
            }
        }
    }

    void sendLine(Worker &w, std::string line)
    {
        line.push_back('\n');
        w.busy = true;
        w.sentNs = nowNs();
        ++m_stats.requests;
        const char *p = line.data();
        size_t left = line.size();
        while (left > 0) {
            const ssize_t n = write(w.stdinFd, p, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                m_stats.error(std::string("write_") + stepName(w.step));
                closeChild(w);
                startSession(w);
                return;
            }
            p += n;
            left -= size_t(n);
        }
        if (w.step == Step::Notify) {
            // A notification has no answer: go on at once.
            w.busy = false;
            if (m_o.calls > 0)
                sendCall(w);
            else
                endSession(w);
        }
    }

    void onStdioEvent(Worker &w, uint32_t events)
    {
        if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) || w.stdoutFd < 0)
            return;
        char buf[65536];
        bool eof = false;
        for (;;) {
            const ssize_t n = read(w.stdoutFd, buf, sizeof buf);
            if (n > 0) {
                w.lineBuf.append(buf, size_t(n));
                if (size_t(n) < sizeof buf)
                    break;
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR))
                eof = true;
            break;
        }
        size_t start = 0;
        const uint32_t generation = w.generation;
        for (;;) {
            const size_t nl = w.lineBuf.find('\n', start);
            if (nl == std::string::npos)
                break;
            const std::string line = w.lineBuf.substr(start, nl - start);
            start = nl + 1;
            onLine(w, line);
            if (w.generation != generation)
                return; // the session ended and the buffer with it
        }
        w.lineBuf.erase(0, start);
        if (eof) {
            m_stats.error(std::string("child_exited_") + stepName(w.step));
            closeChild(w);
            startSession(w);
        }
    }

    void onLine(Worker &w, const std::string &line)
    {
        if (!w.busy)
            return;
        // Ours: carries the id we sent and is not a request or notification.
        const std::string id = w.step == Step::Init ? "0" : std::to_string(w.call + 1);
        const std::string key = "\"id\":" + id;
        const size_t at = line.find(key);
        if (at == std::string::npos || contains(line, "\"method\":\""))
            return;
        const char after = at + key.size() < line.size() ? line[at + key.size()] : '\0';
        if (after != ',' && after != '}')
            return;
        const int64_t elapsed = nowNs() - w.sentNs;
        w.busy = false;
        if (w.step == Step::Init) {
            if (!contains(line, "\"protocolVersion\"")) {
                m_stats.error("initialize_bad");
                closeChild(w);
                startSession(w);
                return;
            }
            ++m_stats.sessionsOk;
            // spawn + initialize, as a gateway's set-up would be
            m_stats.setupNs.push_back(nowNs() - w.sessionStartNs);
            markReady(w);
            w.step = Step::Notify;
            sendLine(w, initializedBody());
            return;
        }
        if (w.step == Step::Call)
            onCallAnswer(w, 200, line, elapsed);
    }

    Options m_o;
    int m_epoll = -1;
    sockaddr_in m_addr{};
    std::string m_hostHeader;
    std::vector<Worker> m_workers;
    std::vector<std::string> m_held;
    std::vector<pid_t> m_reap;
    Stats m_stats;
    bool m_deleting = false;
    int64_t m_startNs = 0;
    int64_t m_endNs = INT64_MAX;
    int64_t m_windowNs = 0;
    size_t m_readyWorkers = 0;
    int64_t m_finishedNs = 0;
    int64_t m_lastSweepNs = 0;
    int64_t m_cpuStart = 0;
    int64_t m_cpuEnd = 0;
};

void usage()
{
    std::fputs("usage: fmb-bench-load http|idle --url http://127.0.0.1:PORT/mcp [options]\n"
               "       fmb-bench-load stdio [options] -- CMD [ARGS...]\n"
               "  --concurrency N     sessions at once (default 1)\n"
               "  --sessions N        sessions in total (idle: sessions to open and hold)\n"
               "  --duration SEC      run for this long instead (sessions restart)\n"
               "  --calls N           tools/call per session (default 100)\n"
               "  --payload BYTES     length of the echoed text (default 32)\n"
               "  --tool NAME         tool to call (default echo)\n"
               "  --arg-name NAME     its string argument (default text; server-everything: message)\n"
               "  --protocol VERSION  MCP protocol version (default 2025-06-18; 2026-07-28: no\n"
               "                      sessions, each worker a client of its own, http only)\n"
               "  --timeout SEC       per request (default 30)\n"
               "  --confirm-crash     after a JSON-RPC error, expect 404 on the session (fault drills)\n"
               "  --delete-on-exit    idle: DELETE the held sessions when stdin closes\n"
               "  --text-prefix TEXT  start every echoed text with TEXT (fmb-bench-child --crash-prefix)\n"
               "  --label TEXT        copied into the JSON result\n"
               "  --bearer-file FILE  send the token in FILE as \"Authorization: Bearer\" (http, idle)\n",
               stderr);
}

bool parseUrl(const std::string &url, Options &o)
{
    const std::string prefix = "http://";
    if (url.compare(0, prefix.size(), prefix) != 0)
        return false;
    const std::string rest = url.substr(prefix.size());
    const size_t slash = rest.find('/');
    const std::string hostPort = rest.substr(0, slash);
    o.path = slash == std::string::npos ? "/" : rest.substr(slash);
    const size_t colon = hostPort.rfind(':');
    if (colon == std::string::npos)
        return false;
    o.host = hostPort.substr(0, colon);
    if (o.host == "localhost")
        o.host = "127.0.0.1";
    o.port = std::atoi(hostPort.c_str() + colon + 1);
    return o.port > 0;
}

} // namespace

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGTERM, requestStop);
    std::signal(SIGINT, requestStop);
    Options o;
    if (argc < 2) {
        usage();
        return 2;
    }
    o.mode = argv[1];
    if (o.mode != "http" && o.mode != "stdio" && o.mode != "idle") {
        usage();
        return 2;
    }
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "fmb-bench-load: %s needs a value\n", arg.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--") {
            for (++i; i < argc; ++i)
                o.command.emplace_back(argv[i]);
        } else if (arg == "--url") {
            if (!parseUrl(value(), o)) {
                std::fprintf(stderr, "fmb-bench-load: --url wants http://HOST:PORT/PATH\n");
                return 2;
            }
        } else if (arg == "--concurrency") {
            o.concurrency = std::atoi(value().c_str());
        } else if (arg == "--sessions") {
            o.sessions = std::atol(value().c_str());
        } else if (arg == "--duration") {
            o.duration = std::atof(value().c_str());
        } else if (arg == "--calls") {
            o.calls = std::atoi(value().c_str());
        } else if (arg == "--payload") {
            o.payload = std::atoi(value().c_str());
        } else if (arg == "--tool") {
            o.tool = value();
        } else if (arg == "--arg-name") {
            o.argName = value();
        } else if (arg == "--protocol") {
            o.protocol = value();
        } else if (arg == "--timeout") {
            o.timeout = std::atof(value().c_str());
        } else if (arg == "--confirm-crash") {
            o.confirmCrash = true;
        } else if (arg == "--delete-on-exit") {
            o.deleteOnExit = true;
        } else if (arg == "--text-prefix") {
            o.textPrefix = value();
        } else if (arg == "--label") {
            o.label = value();
        } else if (arg == "--bearer-file") {
            // A file, not an argument: a token on the command line shows in ps.
            const std::string path = value();
            std::FILE *file = std::fopen(path.c_str(), "r");
            if (!file) {
                std::fprintf(stderr, "fmb-bench-load: cannot read %s\n", path.c_str());
                return 2;
            }
            char buffer[4096];
            const size_t n = std::fread(buffer, 1, sizeof buffer, file);
            std::fclose(file);
            o.bearer.assign(buffer, n);
            while (!o.bearer.empty() && std::isspace(static_cast<unsigned char>(o.bearer.back())))
                o.bearer.pop_back();
        } else if (arg == "--help" || arg == "-h") {
            usage();
            return 0;
        } else {
            std::fprintf(stderr, "fmb-bench-load: unknown option %s\n", arg.c_str());
            usage();
            return 2;
        }
    }
    if (o.mode == "stdio" && o.command.empty()) {
        std::fprintf(stderr, "fmb-bench-load: stdio needs -- CMD [ARGS...]\n");
        return 2;
    }
    if (o.mode != "stdio" && o.port == 0) {
        std::fprintf(stderr, "fmb-bench-load: %s needs --url\n", o.mode.c_str());
        return 2;
    }
    if (stateless(o) && o.mode != "http") {
        std::fprintf(stderr, "fmb-bench-load: --protocol %s has no sessions: http only\n",
                     o.protocol.c_str());
        return 2;
    }
    if (o.sessions <= 0 && o.duration <= 0)
        o.sessions = o.concurrency;
    if (o.mode == "idle")
        o.duration = 0;

    Driver driver(o);
    driver.run();
    std::printf("%s\n", driver.report(o.mode == "idle" ? "opened" : "done").c_str());
    std::fflush(stdout);
    if (o.mode != "idle")
        return driver.stats().errorCount() > 0 ? 1 : 0;

    // Hold the sessions until our input closes (or says anything).
    char buf[256];
    for (;;) {
        const ssize_t n = read(0, buf, sizeof buf);
        if (n <= 0 || std::memchr(buf, '\n', size_t(n)) != nullptr)
            break;
    }
    if (o.deleteOnExit) {
        driver.deleteHeld();
        std::printf("%s\n", driver.report("deleted").c_str());
    }
    return 0;
}

// Integration tests of the built forgejo-mcp-brokerd: the real daemon binary,
// real children (fmb-test-mcp-server) and real sockets. HTTP is spoken over a
// raw QTcpSocket so that the tests choose every header byte (Host, Origin),
// read SSE streams event by event and drop connections mid-stream.
#include <csignal>
#include <functional>
#include <memory>
#include <utility>

#include <cstddef>

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QSysInfo>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include "ChildProbe.h"
#include "DaemonProcess.h"
#include "ProcessProbe.h"
#include "base/Redactor.h"
#include "child/ChildSandbox.h"
#include "config/NodeId.h"

using fmbtest::DaemonProcess;
using fmbtest::landlockMissing;

namespace {

using Headers = QList<std::pair<QByteArray, QByteArray>>;

// Bound for any one awaited condition; passing runs take a fraction of it.
constexpr int WaitMs = 10000;

const QString Version = QStringLiteral("2025-11-25");
const QByteArray Secret = QByteArrayLiteral("s3cr3t-value-123456");

// A "VmRSS:"-style field of /proc/PID/status in KiB, or -1.
qint64 statusKiB(qint64 pid, QByteArrayView field)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    const QList<QByteArray> lines = status.readAll().split('\n');
    for (const QByteArray &line : lines) {
        if (line.startsWith(field))
            return line.mid(field.size()).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}

// A child process modifier that gives the daemon an open-file limit of
// `files` (soft and hard), without the capability to raise it
// (CAP_SYS_RESOURCE), as an unprivileged service under LimitNOFILE= runs.
std::function<void()> openFileLimit(rlim_t files)
{
    return [files] {
        (void)::prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0); // gone after exec; fails unless root
        const struct rlimit limit = {files, files};
        (void)::setrlimit(RLIMIT_NOFILE, &limit);
    };
}

// A child process modifier for a kernel that seems to have no Landlock: a
// seccomp filter answers landlock_create_ruleset with ENOSYS, as Linux < 5.13 does.
void hideLandlock()
{
    static struct sock_filter filter[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr)},
        {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, SYS_landlock_create_ruleset},
        {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS},
        {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW},
    };
    static struct sock_fprog program = {sizeof filter / sizeof filter[0], filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
        ::_exit(125);
}

// ---------------------------------------------------------------------------
// HTTP/1.1 over a raw socket: one request at a time, Content-Length or
// chunked bodies, and SSE events read one by one as chunks arrive.
struct HttpResponse {
    int status = 0;                        // 0: no response (connection failed or closed first)
    QHash<QByteArray, QByteArray> headers; // names in lower case
    QByteArray body;                       // de-chunked
    bool complete = false;                 // the whole body has arrived

    [[nodiscard]] QByteArray header(const QByteArray &name) const { return headers.value(name.toLower()); }
    [[nodiscard]] QByteArray mediaType() const
    {
        return header("content-type").split(';').first().trimmed().toLower();
    }
    [[nodiscard]] QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    [[nodiscard]] int rpcErrorCode() const
    {
        return json().value(QLatin1String("error")).toObject().value(QLatin1String("code")).toInt();
    }
};

struct SseEvent {
    QByteArray id;
    QByteArray data;
    int retry = -1;

    [[nodiscard]] QJsonObject json() const { return QJsonDocument::fromJson(data).object(); }
    [[nodiscard]] QString method() const { return json().value(QLatin1String("method")).toString(); }
    [[nodiscard]] QJsonObject params() const { return json().value(QLatin1String("params")).toObject(); }
    [[nodiscard]] bool isResponse() const
    {
        const QJsonObject object = json();
        return object.contains(QLatin1String("id")) && !object.contains(QLatin1String("method"));
    }
};

class HttpConnection {
public:
    explicit HttpConnection(quint16 port)
        : m_port(port)
    {
        // Read as data arrives: a close right behind it (a refused request)
        // would otherwise discard it before pump() runs.
        QObject::connect(&m_socket, &QTcpSocket::readyRead, &m_socket,
                         [this] { m_raw += m_socket.readAll(); });
    }

    [[nodiscard]] bool open()
    {
        m_socket.connectToHost(QHostAddress(QHostAddress::LocalHost), m_port);
        return QTest::qWaitFor(
                   [this] {
                       return m_socket.state() != QAbstractSocket::ConnectingState &&
                              m_socket.state() != QAbstractSocket::HostLookupState;
                   },
                   WaitMs) &&
               m_socket.state() == QAbstractSocket::ConnectedState;
    }

    void send(const QByteArray &method, const QByteArray &path, const Headers &headers,
              const QByteArray &body = {})
    {
        m_response = HttpResponse();
        m_state = State::Head;
        m_events.clear();
        QByteArray request = method + ' ' + path + " HTTP/1.1\r\n";
        for (const auto &[name, value] : headers)
            request += name + ": " + value + "\r\n";
        if (!body.isEmpty() || method == "POST" || method == "PUT")
            request += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        request += "\r\n" + body;
        m_socket.write(request);
    }

    // The status line and headers.
    [[nodiscard]] bool readHead(int timeoutMs = WaitMs)
    {
        (void)QTest::qWaitFor([this] { return pump() != State::Head || closed(); }, timeoutMs);
        return m_state != State::Head;
    }

    // The whole body: Content-Length bytes, or every chunk up to the last.
    [[nodiscard]] bool readBody()
    {
        (void)QTest::qWaitFor([this] { return pump() == State::Done || closed(); }, WaitMs);
        return m_state == State::Done;
    }

    // The next SSE event of a text/event-stream body, skipping keep-alive
    // comments; false at the end of the stream (or after WaitMs).
    [[nodiscard]] bool readEvent(SseEvent *event)
    {
        for (;;) {
            (void)QTest::qWaitFor(
                [this] { return pump() == State::Done || closed() || m_events.contains("\n\n"); }, WaitMs);
            const qsizetype end = m_events.indexOf("\n\n");
            if (end < 0)
                return false;
            const QList<QByteArray> lines = m_events.left(end).split('\n');
            m_events.remove(0, end + 2);
            SseEvent parsed;
            QByteArrayList data;
            bool any = false;
            for (const QByteArray &line : lines) {
                if (line.startsWith(':'))
                    continue; // comment: keep-alive
                any = true;
                const qsizetype colon = line.indexOf(':');
                const QByteArray field = colon < 0 ? line : line.left(colon);
                QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);
                if (value.startsWith(' '))
                    value.remove(0, 1);
                if (field == "id")
                    parsed.id = value;
                else if (field == "data")
                    data.append(value);
                else if (field == "retry")
                    parsed.retry = value.toInt();
            }
            if (!any)
                continue;
            parsed.data = data.join('\n');
            *event = parsed;
            return true;
        }
    }

    // Every remaining event up to the end of the stream.
    [[nodiscard]] QList<SseEvent> readAllEvents()
    {
        QList<SseEvent> events;
        SseEvent event;
        while (readEvent(&event))
            events.append(event);
        return events;
    }

    [[nodiscard]] bool waitClosed()
    {
        return QTest::qWaitFor([this] { return closed(); }, WaitMs);
    }

    void abort() { m_socket.abort(); }
    [[nodiscard]] bool closed() const { return m_socket.state() == QAbstractSocket::UnconnectedState; }
    [[nodiscard]] const HttpResponse &response() const { return m_response; }
    [[nodiscard]] QTcpSocket &socket() { return m_socket; }

private:
    enum class State { Head, Body, Done };

    State pump()
    {
        m_raw += m_socket.readAll();
        if (m_state == State::Head) {
            const qsizetype end = m_raw.indexOf("\r\n\r\n");
            if (end < 0)
                return m_state;
            const QList<QByteArray> lines = m_raw.left(end).split('\n');
            m_raw.remove(0, end + 4);
            const QList<QByteArray> statusLine = lines.first().trimmed().split(' ');
            m_response.status = statusLine.value(1).toInt();
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const qsizetype colon = lines.at(i).indexOf(':');
                if (colon > 0) {
                    const QByteArray name = lines.at(i).left(colon).trimmed().toLower();
                    const QByteArray value = lines.at(i).mid(colon + 1).trimmed();
                    m_response.headers[name] =
                        m_response.headers.contains(name) ? m_response.headers[name] + ", " + value : value;
                }
            }
            m_chunked = m_response.header("transfer-encoding").toLower().contains("chunked");
            m_remaining = m_response.header("content-length").toLongLong();
            m_state = State::Body;
        }
        if (m_state == State::Body && m_chunked) {
            for (;;) {
                const qsizetype lineEnd = m_raw.indexOf("\r\n");
                if (lineEnd < 0)
                    break;
                bool ok = false;
                const qint64 size = m_raw.left(lineEnd).split(';').first().trimmed().toLongLong(&ok, 16);
                if (!ok) {
                    m_state = State::Done; // garbage: stop reading, the body stays incomplete
                    return m_state;
                }
                if (m_raw.size() < lineEnd + 2 + size + 2)
                    break;
                if (size == 0) {
                    m_raw.remove(0, lineEnd + 4);
                    m_response.complete = true;
                    m_state = State::Done;
                    break;
                }
                const QByteArray data = m_raw.mid(lineEnd + 2, size);
                m_response.body += data;
                m_events += data;
                m_raw.remove(0, lineEnd + 2 + size + 2);
            }
        } else if (m_state == State::Body) {
            const qint64 take = std::min<qint64>(m_remaining, m_raw.size());
            m_response.body += m_raw.left(take);
            m_raw.remove(0, take);
            m_remaining -= take;
            if (m_remaining == 0) {
                m_response.complete = true;
                m_state = State::Done;
            }
        }
        return m_state;
    }

    quint16 m_port;
    QTcpSocket m_socket;
    QByteArray m_raw; // received, not parsed yet
    HttpResponse m_response;
    State m_state = State::Head;
    bool m_chunked = false;
    qint64 m_remaining = 0;
    QByteArray m_events; // de-chunked SSE text not yet split into events
};

// ---------------------------------------------------------------------------
// MCP messages and requests.
QByteArray encode(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QByteArray rpcRequest(const QJsonValue &id, const QString &method, const QJsonObject &params = {})
{
    return encode({{QLatin1String("jsonrpc"), QLatin1String("2.0")},
                   {QLatin1String("id"), id},
                   {QLatin1String("method"), method},
                   {QLatin1String("params"), params}});
}

QByteArray initializeRequest(const QString &version = Version)
{
    return rpcRequest(
        1, QStringLiteral("initialize"),
        {{QLatin1String("protocolVersion"), version},
         {QLatin1String("capabilities"), QJsonObject{}},
         {QLatin1String("clientInfo"), QJsonObject{{QLatin1String("name"), QLatin1String("tst_daemon")},
                                                   {QLatin1String("version"), QLatin1String("1")}}}});
}

QByteArray initializedNotification()
{
    return encode({{QLatin1String("jsonrpc"), QLatin1String("2.0")},
                   {QLatin1String("method"), QLatin1String("notifications/initialized")}});
}

QByteArray toolCall(int id, const QString &tool, const QJsonObject &arguments = {},
                    const QJsonValue &progressToken = QJsonValue(QJsonValue::Undefined))
{
    QJsonObject params{{QLatin1String("name"), tool}, {QLatin1String("arguments"), arguments}};
    if (!progressToken.isUndefined())
        params.insert(QLatin1String("_meta"), QJsonObject{{QLatin1String("progressToken"), progressToken}});
    return rpcRequest(id, QStringLiteral("tools/call"), params);
}

// A request body of exactly `size` bytes.
QByteArray bodyOfSize(qsizetype size)
{
    const QByteArray head = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":")";
    const QByteArray tail = R"("}})";
    return head + QByteArray(size - head.size() - tail.size(), 'x') + tail;
}

Headers baseHeaders(quint16 port)
{
    return {{"Host", "127.0.0.1:" + QByteArray::number(port)}};
}

Headers mcpHeaders(quint16 port, const QByteArray &session = {})
{
    Headers headers = baseHeaders(port);
    headers.emplaceBack("Content-Type", "application/json");
    headers.emplaceBack("Accept", "application/json, text/event-stream");
    if (!session.isEmpty())
        headers.emplaceBack("Mcp-Session-Id", session);
    return headers;
}

Headers streamHeaders(quint16 port, const QByteArray &session, const QByteArray &lastEventId = {})
{
    Headers headers = baseHeaders(port);
    headers.emplaceBack("Accept", "text/event-stream");
    headers.emplaceBack("Mcp-Session-Id", session);
    if (!lastEventId.isEmpty())
        headers.emplaceBack("Last-Event-ID", lastEventId);
    return headers;
}

// Replaces (or, with an empty value, removes) a header, matching the name without case.
void setHeader(Headers &headers, const QByteArray &name, const QByteArray &value)
{
    headers.removeIf(
        [&name](const auto &header) { return header.first.compare(name, Qt::CaseInsensitive) == 0; });
    if (!value.isEmpty())
        headers.emplaceBack(name, value);
}

HttpResponse exchange(quint16 port, const QByteArray &method, const QByteArray &path, const Headers &headers,
                      const QByteArray &body = {})
{
    HttpConnection connection(port);
    if (!connection.open())
        return {};
    connection.send(method, path, headers, body);
    if (connection.readHead())
        (void)connection.readBody();
    return connection.response();
}

HttpResponse post(quint16 port, const QByteArray &session, const QByteArray &body)
{
    return exchange(port, "POST", "/mcp", mcpHeaders(port, session), body);
}

HttpResponse deleteSession(quint16 port, const QByteArray &session)
{
    Headers headers = baseHeaders(port);
    headers.emplaceBack("Mcp-Session-Id", session);
    return exchange(port, "DELETE", "/mcp", headers);
}

// initialize, then notifications/initialized: the session id, or empty.
QByteArray openSession(quint16 port, const QString &version = Version)
{
    const HttpResponse init = post(port, {}, initializeRequest(version));
    const QByteArray session = init.header("mcp-session-id");
    if (init.status != 200 || session.isEmpty())
        return {};
    if (post(port, session, initializedNotification()).status != 202)
        return {};
    return session;
}

// The text of a tools/call result, from JSON or from the last event of an SSE body.
QString toolText(const HttpResponse &response)
{
    QJsonObject object = response.json();
    if (response.mediaType() == "text/event-stream") {
        const QList<QByteArray> lines = response.body.split('\n');
        for (const QByteArray &line : lines) {
            if (line.startsWith("data: {"))
                object = QJsonDocument::fromJson(line.mid(6)).object();
        }
    }
    return fmbtest::toolText(object);
}

// The pid of the session's child, from its `state` tool; 0 on failure.
qint64 childPid(quint16 port, const QByteArray &session)
{
    const HttpResponse state = post(port, session, toolCall(900, QStringLiteral("state")));
    return QJsonDocument::fromJson(toolText(state).toUtf8()).object().value(QLatin1String("pid")).toInteger();
}

// A GET stream, with its head read (any status).
std::unique_ptr<HttpConnection> openGet(quint16 port, const QByteArray &session,
                                        const QByteArray &lastEventId = {})
{
    auto connection = std::make_unique<HttpConnection>(port);
    if (!connection->open())
        return connection;
    connection->send("GET", "/mcp", streamHeaders(port, session, lastEventId));
    (void)connection->readHead();
    return connection;
}

// POSTs a `notify` call whose events arrive 100 ms apart, reads up to its
// first progress event and drops the connection: the id of that event, or
// empty. The session keeps the rest for a reconnect.
QByteArray startAndDrop(quint16 port, const QByteArray &session, int id, int count, const QString &token)
{
    HttpConnection connection(port);
    if (!connection.open())
        return {};
    connection.send("POST", "/mcp", mcpHeaders(port, session),
                    toolCall(id, QStringLiteral("notify"),
                             {{QLatin1String("count"), count}, {QLatin1String("intervalMs"), 100}}, token));
    if (!connection.readHead() || connection.response().mediaType() != "text/event-stream")
        return {};
    SseEvent event;
    while (connection.readEvent(&event)) {
        if (event.method() == QLatin1String("notifications/progress")) {
            connection.abort();
            return event.id;
        }
    }
    return {};
}

// The stream part of an event id "STREAM-SEQ" as the daemon writes it.
QByteArray streamOf(const QByteArray &eventId)
{
    return eventId.left(eventId.indexOf('-'));
}

// Resumes with Last-Event-ID, retrying while the daemon has not yet noticed
// that the previous reader went away (409 "that stream already has a reader").
std::unique_ptr<HttpConnection> resume(quint16 port, const QByteArray &session, const QByteArray &lastEventId)
{
    std::unique_ptr<HttpConnection> connection;
    (void)QTest::qWaitFor(
        [&] {
            connection = openGet(port, session, lastEventId);
            return connection->response().status != 409;
        },
        WaitMs);
    return connection;
}

// The daemon's log line for a session the reaper evicts.
QByteArray evictionLine(const QByteArray &session)
{
    return "session " + session.right(48).left(8) + " idle for"; // only 8 hex of the random part are logged
}

// When that line was logged (its leading UTC timestamp), or an invalid time.
QDateTime evictionTime(const QByteArray &log, const QByteArray &session)
{
    const QList<QByteArray> lines = log.split('\n');
    for (const QByteArray &line : lines) {
        if (line.contains(evictionLine(session)))
            return QDateTime::fromString(QString::fromLatin1(line.left(line.indexOf(' '))),
                                         Qt::ISODateWithMs);
    }
    return {};
}

} // namespace

// ===========================================================================
class tst_Daemon : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void healthz();
    void nodeIdEverywhere();
    void statusTable_data();
    void statusTable();
    void oversizedBodyKeepsMemoryFlat();
    void sessionLifecycle();
    void replyShape_data();
    void replyShape();
    void secondGetStreamConflicts();
    void resumeWithLastEventId();
    void lastEventIdStaysInItsStream();
    void sessionCap();
    void perSessionLimits();
    void childCrashEndsOnlyItsSession();
    void childOutputProblems_data();
    void childOutputProblems();
    void childStartFailure_data();
    void childStartFailure();
    void childrenDieWithAKilledBroker();
    void secretKeyFileRefused_data();
    void secretKeyFileRefused();
    void idleReaper();
    void idleTimeCountsFromStreamClose();
    void secretsStayOutOfTheLog();
    void stopSignalEndsEveryChild_data();
    void stopSignalEndsEveryChild();
    void oversizedRequestRefusedAtOnce_data();
    void oversizedRequestRefusedAtOnce();
    void sessionsBeyondTheFileLimitGet503();
    void childStdioFollowsTheFileLimit_data();
    void childStdioFollowsTheFileLimit();
    void relativeAdminSocketPath();
    void childEnvironmentIsAnAllowList();
    void childCannotReachTheState();
    void allowedPathInsideTheStateIsRefused();
    void withoutLandlock_data();
    void withoutLandlock();
    void configErrors_data();
    void configErrors();
    void byteOrderMarkRefused_data();
    void byteOrderMarkRefused();
    void sessionIdsLoggedAsPrefix();
    void helpNamesEveryFlag_data();
    void helpNamesEveryFlag();

private:
    // One daemon for the tests that need no special settings.
    std::unique_ptr<DaemonProcess> m_shared;
    quint16 m_port = 0;
    QByteArray m_session; // a ready session on m_shared
};

void tst_Daemon::initTestCase()
{
    QVERIFY2(QFile::exists(DaemonProcess::daemonPath()), qPrintable(DaemonProcess::daemonPath()));
    QVERIFY2(QFile::exists(DaemonProcess::testServerPath()), qPrintable(DaemonProcess::testServerPath()));
    m_shared = std::make_unique<DaemonProcess>();
    QVERIFY(m_shared->start({QStringLiteral("--max-body-bytes"), QStringLiteral("64KiB"),
                             QStringLiteral("--allowed-origin"), QStringLiteral("http://good.example.com")}));
    QVERIFY2(m_shared->waitForListening(), qPrintable(m_shared->failure()));
    m_port = m_shared->port();
    m_session = openSession(m_port);
    QVERIFY2(!m_session.isEmpty(), m_shared->log().constData());
}

void tst_Daemon::cleanupTestCase()
{
    if (!m_shared || !m_shared->isRunning())
        return;
    m_shared->terminate();
    QTRY_VERIFY_WITH_TIMEOUT(!m_shared->isRunning(), WaitMs);
    QCOMPARE(m_shared->exitStatus(), QProcess::NormalExit);
    QCOMPARE(m_shared->exitCode(), 0);
}

void tst_Daemon::healthz()
{
    const HttpResponse response = exchange(m_port, "GET", "/healthz", baseHeaders(m_port));
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("content-type"), QByteArray("application/json"));
    // Issue 14: without --node-id, the host name and the port bound.
    const QJsonObject body = QJsonDocument::fromJson(response.body).object();
    QCOMPARE(body.value(QLatin1String("status")).toString(), QStringLiteral("ok"));
    QCOMPARE(body.value(QLatin1String("node")).toString(),
             fmb::defaultNodeId(QSysInfo::machineHostName(), m_port));
}

// Issue 14: --node-id names the broker in its log, /healthz, /metrics and the
// session ids it hands out (an nginx map routes on that prefix).
void tst_Daemon::nodeIdEverywhere()
{
    DaemonProcess daemon;
    QVERIFY(daemon.start({QStringLiteral("--node-id"), QStringLiteral("broker-b.eu_1"),
                          QStringLiteral("--metrics-listen"), QStringLiteral("127.0.0.1:0")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    QVERIFY2(daemon.log().contains("node id broker-b.eu_1"), daemon.log().constData());
    const quint16 port = daemon.port();

    const HttpResponse health = exchange(port, "GET", "/healthz", baseHeaders(port));
    QCOMPARE(QJsonDocument::fromJson(health.body).object().value(QLatin1String("node")).toString(),
             QStringLiteral("broker-b.eu_1"));

    const HttpResponse init = post(port, {}, initializeRequest());
    QCOMPARE(init.status, 200);
    static const QRegularExpression prefixed(QStringLiteral("^broker-b\\.eu_1-[0-9a-f]{48}$"));
    QVERIFY2(prefixed.match(QString::fromLatin1(init.header("mcp-session-id"))).hasMatch(),
             init.header("mcp-session-id").constData());

    static const QRegularExpression metricsUrl(QStringLiteral("metrics on http://127\\.0\\.0\\.1:(\\d+)"));
    const QRegularExpressionMatch metrics = metricsUrl.match(QString::fromUtf8(daemon.log()));
    QVERIFY2(metrics.hasMatch(), daemon.log().constData());
    const auto metricsPort = quint16(metrics.captured(1).toUInt());
    const HttpResponse scraped = exchange(metricsPort, "GET", "/metrics", baseHeaders(metricsPort));
    QCOMPARE(scraped.status, 200);
    QVERIFY2(scraped.body.contains("forgejo_mcp_broker_node_info{node=\"broker-b.eu_1\"} 1\n"),
             scraped.body.constData());
}

// Rows name a request that differs from a good POST /mcp by the listed
// headers ("Name: value"; an empty value drops the header). "{session}"
// stands for a live session id.
void tst_Daemon::statusTable_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArrayList>("headers");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<int>("rpcCode");          // 0: not checked
    QTest::addColumn<QByteArray>("header");    // expected response header, or empty
    QTest::addColumn<QByteArray>("headerHas"); // ... containing this

    const QByteArray session = "Mcp-Session-Id: {session}";
    const QByteArray toolsList = R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})";

    QTest::newRow("malformed JSON -> 400 -32700")
        << QByteArray("POST") << QByteArrayList{session} << QByteArray(R"({"jsonrpc":"2.0","id":)") << 400
        << -32700 << QByteArray() << QByteArray();
    QTest::newRow("JSON object that is not JSON-RPC -> 400 -32600")
        << QByteArray("POST") << QByteArrayList{session} << QByteArray(R"({"hello":"world"})") << 400
        << -32600 << QByteArray() << QByteArray();
    QTest::newRow("JSON number -> 400 -32600")
        << QByteArray("POST") << QByteArrayList{session} << QByteArray("42") << 400 << -32600 << QByteArray()
        << QByteArray();
    QTest::newRow("batch holding a number -> 400 -32600")
        << QByteArray("POST") << QByteArrayList{session} << QByteArray("[1]") << 400 << -32600 << QByteArray()
        << QByteArray();
    QTest::newRow("Content-Type text/plain -> 415")
        << QByteArray("POST") << QByteArrayList{session, "Content-Type: text/plain"} << toolsList << 415 << 0
        << QByteArray() << QByteArray();
    QTest::newRow("Accept without text/event-stream -> 406")
        << QByteArray("POST") << QByteArrayList{session, "Accept: application/json"} << toolsList << 406 << 0
        << QByteArray() << QByteArray();
    QTest::newRow("body of 65 KiB + 1 over a 64 KiB limit -> 413")
        << QByteArray("POST") << QByteArrayList{session} << bodyOfSize(65 * 1024 + 1) << 413 << 0
        << QByteArray() << QByteArray();
    QTest::newRow("tools/list without Mcp-Session-Id -> 400")
        << QByteArray("POST") << QByteArrayList{} << toolsList << 400 << 0 << QByteArray() << QByteArray();
    QTest::newRow("unknown Mcp-Session-Id -> 404")
        << QByteArray("POST") << QByteArrayList{"Mcp-Session-Id: " + QByteArray(48, '0')} << toolsList << 404
        << 0 << QByteArray() << QByteArray();
    QTest::newRow("GET with unknown Mcp-Session-Id -> 404")
        << QByteArray("GET") << QByteArrayList{"Mcp-Session-Id: " + QByteArray(48, 'a')} << QByteArray()
        << 404 << 0 << QByteArray() << QByteArray();
    QTest::newRow("GET accepting only text/html -> 406")
        << QByteArray("GET") << QByteArrayList{session, "Accept: text/html"} << QByteArray() << 406 << 0
        << QByteArray() << QByteArray();
    QTest::newRow("DELETE without Mcp-Session-Id -> 400")
        << QByteArray("DELETE") << QByteArrayList{} << QByteArray() << 400 << 0 << QByteArray()
        << QByteArray();
    QTest::newRow("PUT -> 405 with Allow") << QByteArray("PUT") << QByteArrayList{session} << toolsList << 405
                                           << 0 << QByteArray("Allow") << QByteArray("POST");
    QTest::newRow("OPTIONS preflight from the allowed Origin -> 204")
        << QByteArray("OPTIONS") << QByteArrayList{"Origin: http://good.example.com"} << QByteArray() << 204
        << 0 << QByteArray("Access-Control-Allow-Headers") << QByteArray("Mcp-Session-Id");
    QTest::newRow("OPTIONS preflight from Origin evil.example.com -> 403")
        << QByteArray("OPTIONS") << QByteArrayList{"Origin: http://evil.example.com"} << QByteArray() << 403
        << 0 << QByteArray() << QByteArray();
    QTest::newRow("Origin evil.example.com -> 403")
        << QByteArray("POST") << QByteArrayList{session, "Origin: http://evil.example.com"} << toolsList
        << 403 << 0 << QByteArray() << QByteArray();
    QTest::newRow("Origin null -> 403") << QByteArray("POST") << QByteArrayList{session, "Origin: null"}
                                        << toolsList << 403 << 0 << QByteArray() << QByteArray();
    QTest::newRow("Host evil.example.com -> 403")
        << QByteArray("POST") << QByteArrayList{session, "Host: evil.example.com"} << toolsList << 403 << 0
        << QByteArray() << QByteArray();
    QTest::newRow("Origin allowed by --allowed-origin -> 200")
        << QByteArray("POST") << QByteArrayList{session, "Origin: http://good.example.com"} << toolsList
        << 200 << 0 << QByteArray("Access-Control-Allow-Origin") << QByteArray("http://good.example.com");
    QTest::newRow("loopback Origin -> 200")
        << QByteArray("POST") << QByteArrayList{session, "Origin: http://localhost:3000"} << toolsList << 200
        << 0 << QByteArray() << QByteArray();
    QTest::newRow("Host localhost -> 200") << QByteArray("POST") << QByteArrayList{session, "Host: localhost"}
                                           << toolsList << 200 << 0 << QByteArray() << QByteArray();
    QTest::newRow("unsupported MCP-Protocol-Version -> 400")
        << QByteArray("POST") << QByteArrayList{session, "MCP-Protocol-Version: 1999-01-01"} << toolsList
        << 400 << 0 << QByteArray() << QByteArray();
    QTest::newRow("MCP-Protocol-Version 2025-11-25 -> 200")
        << QByteArray("POST") << QByteArrayList{session, "MCP-Protocol-Version: 2025-11-25"} << toolsList
        << 200 << 0 << QByteArray() << QByteArray();
}

void tst_Daemon::statusTable()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArrayList, headers);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(int, rpcCode);
    QFETCH(QByteArray, header);
    QFETCH(QByteArray, headerHas);

    Headers request = mcpHeaders(m_port);
    for (const QByteArray &line : std::as_const(headers)) {
        const qsizetype colon = line.indexOf(':');
        QByteArray value = line.mid(colon + 1).trimmed();
        value.replace("{session}", m_session);
        setHeader(request, line.left(colon), value);
    }
    const HttpResponse response = exchange(m_port, method, "/mcp", request, body);
    QCOMPARE(response.status, status);
    QVERIFY(response.complete);
    if (rpcCode != 0) {
        QCOMPARE(response.mediaType(), QByteArray("application/json"));
        QCOMPARE(response.rpcErrorCode(), rpcCode);
    }
    if (status >= 400)
        QVERIFY2(response.json().contains(QLatin1String("error")), response.body.constData());
    if (!header.isEmpty())
        QVERIFY2(response.header(header).contains(headerHas), response.header(header).constData());
}

// A body far over the limit is refused while it arrives: the daemon never
// holds it, and goes on serving.
void tst_Daemon::oversizedBodyKeepsMemoryFlat()
{
    DaemonProcess daemon;
    QVERIFY(daemon.start({QStringLiteral("--max-body-bytes"), QStringLiteral("64KiB")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();
    QCOMPARE(exchange(port, "GET", "/healthz", baseHeaders(port)).status, 200);

    const qint64 rssBefore = statusKiB(daemon.pid(), "VmRSS:");
    const qint64 peakBefore = statusKiB(daemon.pid(), "VmHWM:");
    QVERIFY(rssBefore > 0 && peakBefore > 0);

    constexpr qint64 BodyBytes = 16 * 1024 * 1024;
    HttpConnection connection(port);
    QVERIFY(connection.open());
    Headers headers = mcpHeaders(port);
    headers.emplaceBack("Content-Length", QByteArray::number(BodyBytes));
    QByteArray head = "POST /mcp HTTP/1.1\r\n";
    for (const auto &[name, value] : std::as_const(headers))
        head += name + ": " + value + "\r\n";
    connection.socket().write(head + "\r\n");
    const QByteArray chunk(1024 * 1024, 'x');
    for (qint64 sent = 0; sent < BodyBytes; sent += chunk.size())
        connection.socket().write(chunk);
    // 413 (the guard answers before it closes), or a reset while we still
    // write can discard that answer: then only the close is seen. Either
    // comes at once on loopback; 5 s is generous.
    const bool refused = connection.readHead(5000) || connection.closed();
    QVERIFY2(refused, "neither 413 nor a close within 5 s");
    if (connection.response().status != 0)
        QCOMPARE(connection.response().status, 413);

    QCOMPARE(exchange(port, "GET", "/healthz", baseHeaders(port)).status, 200);
    const qint64 rssAfter = statusKiB(daemon.pid(), "VmRSS:");
    const qint64 peakAfter = statusKiB(daemon.pid(), "VmHWM:");
    // Holding the body would add 16 MiB (more with copies); 8 MiB is slack for allocator noise.
    constexpr qint64 SlackKiB = 8 * 1024;
    QVERIFY2(rssAfter - rssBefore < SlackKiB,
             qPrintable(QStringLiteral("VmRSS %1 KiB -> %2 KiB").arg(rssBefore).arg(rssAfter)));
    QVERIFY2(peakAfter - peakBefore < SlackKiB,
             qPrintable(QStringLiteral("VmHWM %1 KiB -> %2 KiB").arg(peakBefore).arg(peakAfter)));
    QVERIFY2(!openSession(port).isEmpty(), daemon.log().constData());
    connection.abort();
}

void tst_Daemon::sessionLifecycle()
{
    const HttpResponse init = post(m_port, {}, initializeRequest());
    QCOMPARE(init.status, 200);
    QCOMPARE(init.mediaType(), QByteArray("application/json"));
    const QByteArray session = init.header("mcp-session-id");
    // The node id (here the default: host name and port), then 192 random bits.
    const QRegularExpression id(
        QLatin1Char('^') +
        QRegularExpression::escape(fmb::defaultNodeId(QSysInfo::machineHostName(), m_port)) +
        QStringLiteral("-[0-9a-f]{48}$"));
    QVERIFY2(id.match(QString::fromLatin1(session)).hasMatch(), session.constData());
    const QJsonObject result = init.json().value(QLatin1String("result")).toObject();
    QCOMPARE(result.value(QLatin1String("protocolVersion")).toString(), Version);
    QCOMPARE(init.json().value(QLatin1String("id")).toInt(), 1);

    const HttpResponse initialized = post(m_port, session, initializedNotification());
    QCOMPARE(initialized.status, 202);
    QVERIFY(initialized.body.isEmpty());

    const qint64 pid = childPid(m_port, session);
    QVERIFY(fmbtest::processAlive(pid));

    QCOMPARE(deleteSession(m_port, session).status, 200);
    QCOMPARE(post(m_port, session, toolCall(3, QStringLiteral("echo"), {{QLatin1String("text"), 1}})).status,
             404);
    QCOMPARE(deleteSession(m_port, session).status, 404);
    QCOMPARE(openGet(m_port, session)->response().status, 404);
    QTRY_VERIFY_WITH_TIMEOUT(!fmbtest::processAlive(pid), WaitMs);
}

void tst_Daemon::replyShape_data()
{
    QTest::addColumn<QString>("version");
    QTest::addColumn<QByteArray>("call");
    QTest::addColumn<QByteArray>("mediaType");
    QTest::addColumn<bool>("priming");
    QTest::addColumn<int>("progressEvents");

    const QByteArray notify =
        toolCall(5, QStringLiteral("notify"), {{QLatin1String("count"), 3}}, QStringLiteral("tok-5"));
    QTest::newRow("notify with progressToken on 2025-11-25 -> SSE, priming first")
        << Version << notify << QByteArray("text/event-stream") << true << 3;
    QTest::newRow("notify with progressToken on 2025-06-18 -> SSE, no priming")
        << QStringLiteral("2025-06-18") << notify << QByteArray("text/event-stream") << false << 3;
    QTest::newRow("echo -> application/json")
        << Version << toolCall(5, QStringLiteral("echo"), {{QLatin1String("text"), QLatin1String("hello")}})
        << QByteArray("application/json") << false << 0;
}

void tst_Daemon::replyShape()
{
    QFETCH(QString, version);
    QFETCH(QByteArray, call);
    QFETCH(QByteArray, mediaType);
    QFETCH(bool, priming);
    QFETCH(int, progressEvents);

    const QByteArray session = openSession(m_port, version);
    QVERIFY(!session.isEmpty());
    HttpConnection connection(m_port);
    QVERIFY(connection.open());
    connection.send("POST", "/mcp", mcpHeaders(m_port, session), call);
    QVERIFY(connection.readHead());
    QCOMPARE(connection.response().status, 200);
    QCOMPARE(connection.response().mediaType(), mediaType);

    if (mediaType == "application/json") {
        QVERIFY(connection.readBody());
        QCOMPARE(connection.response().json().value(QLatin1String("id")).toInt(), 5);
        QCOMPARE(toolText(connection.response()), QStringLiteral("hello"));
        return;
    }

    QList<SseEvent> events = connection.readAllEvents();
    QVERIFY(connection.response().complete); // the stream ends after the response
    QVERIFY(!events.isEmpty());
    if (priming) {
        const SseEvent first = events.takeFirst();
        QVERIFY2(first.data.isEmpty(), first.data.constData());
        QVERIFY(!first.id.isEmpty());
        QVERIFY(first.retry > 0);
    }
    QCOMPARE(events.size(), progressEvents + 2); // progress..., the log message, the response
    for (int i = 0; i < progressEvents; ++i) {
        QCOMPARE(events.at(i).method(), QStringLiteral("notifications/progress"));
        QCOMPARE(events.at(i).params().value(QLatin1String("progressToken")).toString(),
                 QStringLiteral("tok-5"));
        QCOMPARE(events.at(i).params().value(QLatin1String("progress")).toInt(), i + 1);
        QVERIFY(!events.at(i).id.isEmpty());
    }
    QCOMPARE(events.at(progressEvents).method(), QStringLiteral("notifications/message"));
    const SseEvent last = events.constLast();
    QVERIFY2(last.isResponse(), last.data.constData());
    QCOMPARE(last.json().value(QLatin1String("id")).toInt(), 5);
    QCOMPARE(toolText(connection.response()), QStringLiteral("sent 3 notifications"));
}

void tst_Daemon::secondGetStreamConflicts()
{
    const QByteArray session = openSession(m_port);
    QVERIFY(!session.isEmpty());
    std::unique_ptr<HttpConnection> first = openGet(m_port, session);
    QCOMPARE(first->response().status, 200);
    QCOMPARE(first->response().mediaType(), QByteArray("text/event-stream"));
    SseEvent priming;
    QVERIFY(first->readEvent(&priming));
    QVERIFY(priming.data.isEmpty());

    const HttpResponse second = openGet(m_port, session)->response();
    QCOMPARE(second.status, 409);

    // Once the first reader has gone, the stream may be opened again.
    first->abort();
    std::unique_ptr<HttpConnection> again;
    QTRY_VERIFY_WITH_TIMEOUT((again = openGet(m_port, session))->response().status == 200, WaitMs);
    QCOMPARE(again->response().mediaType(), QByteArray("text/event-stream"));
}

// A POST stream dropped after its first progress event is picked up with
// GET + Last-Event-ID: the rest of the events, then the response, no gaps
// and no repeats.
void tst_Daemon::resumeWithLastEventId()
{
    const QByteArray session = openSession(m_port);
    QVERIFY(!session.isEmpty());
    const QByteArray firstId = startAndDrop(m_port, session, 7, 4, QStringLiteral("resume-7"));
    QVERIFY(!firstId.isEmpty());

    std::unique_ptr<HttpConnection> resumed = resume(m_port, session, firstId);
    QCOMPARE(resumed->response().status, 200);
    QCOMPARE(resumed->response().mediaType(), QByteArray("text/event-stream"));
    const QList<SseEvent> events = resumed->readAllEvents();
    QVERIFY(resumed->response().complete);

    QCOMPARE(events.size(), 3 + 2); // progress 2..4, the log message, the response
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(events.at(i).method(), QStringLiteral("notifications/progress"));
        QCOMPARE(events.at(i).params().value(QLatin1String("progressToken")).toString(),
                 QStringLiteral("resume-7"));
        QCOMPARE(events.at(i).params().value(QLatin1String("progress")).toInt(), i + 2);
    }
    QCOMPARE(events.at(3).method(), QStringLiteral("notifications/message"));
    QVERIFY(events.at(4).isResponse());
    QCOMPARE(events.at(4).json().value(QLatin1String("id")).toInt(), 7);
    qint64 previous = firstId.mid(firstId.indexOf('-') + 1).toLongLong();
    for (const SseEvent &event : events) {
        QCOMPARE(streamOf(event.id), streamOf(firstId));
        const qint64 seq = event.id.mid(event.id.indexOf('-') + 1).toLongLong();
        QCOMPARE(seq, previous + 1);
        previous = seq;
    }
}

// Event ids name a stream of one session; no Last-Event-ID, whether of a
// finished stream or of another session, yields another stream's events.
void tst_Daemon::lastEventIdStaysInItsStream()
{
    const QByteArray a = openSession(m_port);
    const QByteArray b = openSession(m_port);
    QVERIFY(!a.isEmpty() && !b.isEmpty());

    // A's stream X and B's stream, both dropped mid-way (their ids may well be equal).
    const QByteArray ax = startAndDrop(m_port, a, 21, 2, QStringLiteral("a-x"));
    const QByteArray bx = startAndDrop(m_port, b, 21, 3, QStringLiteral("b-x"));
    QVERIFY(!ax.isEmpty() && !bx.isEmpty());

    const auto onlyToken = [](const QList<SseEvent> &events, const QString &token,
                              const QString &resultText) {
        for (const SseEvent &event : events) {
            if (event.method() == QLatin1String("notifications/progress") &&
                event.params().value(QLatin1String("progressToken")).toString() != token)
                return false;
            if (event.isResponse() && !event.data.contains(QStringLiteral("\"%1\"").arg(resultText).toUtf8()))
                return false;
        }
        return !events.isEmpty() && events.constLast().isResponse();
    };

    std::unique_ptr<HttpConnection> resumedA = resume(m_port, a, ax);
    QCOMPARE(resumedA->response().status, 200);
    const QList<SseEvent> eventsA = resumedA->readAllEvents();
    QVERIFY(onlyToken(eventsA, QStringLiteral("a-x"), QStringLiteral("sent 2 notifications")));

    std::unique_ptr<HttpConnection> resumedB = resume(m_port, b, bx);
    QCOMPARE(resumedB->response().status, 200);
    const QList<SseEvent> eventsB = resumedB->readAllEvents();
    QVERIFY(onlyToken(eventsB, QStringLiteral("b-x"), QStringLiteral("sent 3 notifications")));

    // A's stream Y, dropped; then A's finished X id and A's Y id presented to
    // B, and X's id to A again, must not reach Y's events.
    const QByteArray ay = startAndDrop(m_port, a, 22, 4, QStringLiteral("a-y"));
    QVERIFY(!ay.isEmpty());
    std::unique_ptr<HttpConnection> staleOnA = resume(m_port, a, ax);
    QCOMPARE(staleOnA->response().status, 200);
    std::unique_ptr<HttpConnection> foreignOnB = resume(m_port, b, ay);
    QCOMPARE(foreignOnB->response().status, 200);

    std::unique_ptr<HttpConnection> resumedY = resume(m_port, a, ay);
    QCOMPARE(resumedY->response().status, 200);
    QVERIFY(
        onlyToken(resumedY->readAllEvents(), QStringLiteral("a-y"), QStringLiteral("sent 4 notifications")));

    // Ending the sessions ends the other two streams; what they carried must hold nothing of Y.
    QCOMPARE(deleteSession(m_port, a).status, 200);
    QCOMPARE(deleteSession(m_port, b).status, 200);
    for (HttpConnection *stream : {staleOnA.get(), foreignOnB.get()}) {
        const QList<SseEvent> events = stream->readAllEvents();
        QVERIFY(stream->response().complete);
        for (const SseEvent &event : events) {
            QVERIFY2(!event.data.contains("a-y") && !event.data.contains("sent 4"), event.data.constData());
            QVERIFY2(event.data.isEmpty(), event.data.constData()); // only a priming event
        }
    }
}

void tst_Daemon::sessionCap()
{
    DaemonProcess daemon;
    QVERIFY(daemon.start({QStringLiteral("--max-sessions"), QStringLiteral("2")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();

    const QByteArray first = openSession(port);
    const QByteArray second = openSession(port);
    QVERIFY(!first.isEmpty() && !second.isEmpty());
    const HttpResponse third = post(port, {}, initializeRequest());
    QCOMPARE(third.status, 503);
    QVERIFY2(third.header("retry-after").toInt() > 0, third.header("retry-after").constData());
    QVERIFY(third.header("mcp-session-id").isEmpty());
    QVERIFY(third.json().contains(QLatin1String("error")));

    // Ending a session frees its place.
    QCOMPARE(deleteSession(port, first).status, 200);
    QVERIFY(!openSession(port).isEmpty());
}

void tst_Daemon::perSessionLimits()
{
    // Issue 11: the flags reach the transport and every session.
    DaemonProcess daemon;
    QVERIFY(daemon.start({QStringLiteral("--max-batch-messages"), QStringLiteral("2"),
                          QStringLiteral("--max-subscriptions-per-session"), QStringLiteral("1")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();
    const QByteArray session = openSession(port);
    QVERIFY(!session.isEmpty());

    const HttpResponse tooBig = post(
        port, session,
        R"([{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"},{"jsonrpc":"2.0","method":"c"}])");
    QCOMPARE(tooBig.status, 400);
    QCOMPARE(tooBig.rpcErrorCode(), -32600);
    QVERIFY2(tooBig.body.contains("batch has 3 messages; at most 2"), tooBig.body.constData());

    const HttpResponse subscribed =
        post(port, session,
             R"([{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"repo://a"}},)"
             R"({"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"repo://b"}}])");
    QCOMPARE(subscribed.status, 200);
    const QJsonArray replies = QJsonDocument::fromJson(subscribed.body).array();
    QCOMPARE(replies.size(), 2);
    int refused = 0;
    for (const QJsonValue &reply : replies) {
        const int code =
            reply.toObject().value(QLatin1String("error")).toObject().value(QLatin1String("code")).toInt();
        refused += code == -32003 ? 1 : 0;
    }
    QCOMPARE(refused, 1);
}

void tst_Daemon::childCrashEndsOnlyItsSession()
{
    const QByteArray crashing = openSession(m_port);
    const QByteArray bystander = openSession(m_port);
    QVERIFY(!crashing.isEmpty() && !bystander.isEmpty());
    const qint64 pid = childPid(m_port, crashing);
    QVERIFY(fmbtest::processAlive(pid));

    const HttpResponse crashed =
        post(m_port, crashing, toolCall(5, QStringLiteral("crash"), {{QLatin1String("code"), 7}}));
    QVERIFY(crashed.complete);
    QCOMPARE(crashed.mediaType(), QByteArray("application/json"));
    QCOMPARE(crashed.json().value(QLatin1String("id")).toInt(), 5);
    QVERIFY2(crashed.rpcErrorCode() != 0, crashed.body.constData());

    QCOMPARE(post(m_port, crashing, toolCall(6, QStringLiteral("echo"), {{QLatin1String("text"), 1}})).status,
             404);
    QTRY_VERIFY_WITH_TIMEOUT(!fmbtest::processAlive(pid), WaitMs);
    const HttpResponse echo =
        post(m_port, bystander,
             toolCall(6, QStringLiteral("echo"), {{QLatin1String("text"), QLatin1String("still here")}}));
    QCOMPARE(echo.status, 200);
    QCOMPARE(toolText(echo), QStringLiteral("still here"));
}

void tst_Daemon::childOutputProblems_data()
{
    QTest::addColumn<QString>("tool");
    QTest::addColumn<int>("bytes");
    QTest::addColumn<QByteArray>("logged");

    QTest::newRow("a line that is not JSON") << QStringLiteral("garbage") << 0 << QByteArray("not JSON-RPC");
    QTest::newRow("a 4 KiB line over the 1 KiB line limit")
        << QStringLiteral("huge") << 4096 << QByteArray("over the limit of 1024");
    QTest::newRow("a 1 MiB line over the 1 KiB line limit")
        << QStringLiteral("huge") << 1024 * 1024 << QByteArray("over the limit of 1024");
}

void tst_Daemon::childOutputProblems()
{
    QFETCH(QString, tool);
    QFETCH(int, bytes);
    QFETCH(QByteArray, logged);

    DaemonProcess daemon;
    QVERIFY(daemon.start({QStringLiteral("--child-max-line-bytes"), QStringLiteral("1KiB")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();
    const QByteArray session = openSession(port);
    const QByteArray other = openSession(port);
    QVERIFY(!session.isEmpty() && !other.isEmpty());

    const HttpResponse response = post(port, session, toolCall(5, tool, {{QLatin1String("bytes"), bytes}}));
    QCOMPARE(response.status, 200);
    QVERIFY2(toolText(response).endsWith(QLatin1String(" sent")), response.body.constData());
    QTRY_VERIFY2_WITH_TIMEOUT(daemon.log().contains(logged), daemon.log().constData(), WaitMs);

    for (const QByteArray &id : {session, other}) {
        const HttpResponse echo = post(
            port, id, toolCall(6, QStringLiteral("echo"), {{QLatin1String("text"), QLatin1String("fine")}}));
        QCOMPARE(echo.status, 200);
        QCOMPARE(toolText(echo), QStringLiteral("fine"));
    }
}

void tst_Daemon::childStartFailure_data()
{
    QTest::addColumn<QString>("childCommand");

    QTest::newRow("child program does not exist") << QStringLiteral("/nonexistent/fmb-no-such-mcp-server");
    QTest::newRow("child exits with status 3 at start")
        << DaemonProcess::testServerPath() + QLatin1String(" --exit-at-start 3");
}

void tst_Daemon::childStartFailure()
{
    QFETCH(QString, childCommand);

    DaemonProcess daemon;
    // With room for one session, a second attempt shows that the failed one was let go.
    QVERIFY(daemon.start({QStringLiteral("--max-sessions"), QStringLiteral("1")}, childCommand));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();

    for (int attempt = 0; attempt < 2; ++attempt) { // a failed start leaves nothing behind
        const HttpResponse init = post(port, {}, initializeRequest());
        QCOMPARE(init.status, 502);
        QVERIFY(init.header("mcp-session-id").isEmpty());
        QVERIFY2(init.rpcErrorCode() != 0, init.body.constData());
    }
    QCOMPARE(exchange(port, "GET", "/healthz", baseHeaders(port)).status, 200);
    QVERIFY(daemon.isRunning());
}

// Issue 14: a broker of a cluster that is killed (kill -9, OOM) leaves no
// child behind, not even one that ignores the end of its stdin.
void tst_Daemon::childrenDieWithAKilledBroker()
{
    DaemonProcess daemon;
    QVERIFY(daemon.start({}, DaemonProcess::testServerPath() + QLatin1String(" --linger-after-eof")));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();
    QList<qint64> children;
    // Without the fix the children outlive the test: never leak them past it.
    const auto reap = qScopeGuard([&children] {
        for (const qint64 pid : std::as_const(children)) {
            if (fmbtest::processAlive(pid))
                ::kill(pid_t(pid), SIGKILL);
        }
    });
    for (int i = 0; i < 2; ++i) {
        const QByteArray session = openSession(port);
        QVERIFY2(!session.isEmpty(), daemon.log().constData());
        children.append(childPid(port, session));
        QVERIFY(fmbtest::processAlive(children.last()));
    }

    daemon.kill();
    QVERIFY(daemon.waitForExit());
    for (const qint64 pid : std::as_const(children)) {
        QTRY_VERIFY2_WITH_TIMEOUT(!fmbtest::processAlive(pid),
                                  qPrintable(QStringLiteral("child %1 outlived its broker").arg(pid)), 10000);
    }
}

// Issue 14: --secret-key-file is the key a cluster's brokers share. A start
// with a key file that is missing, too open or of the wrong size fails, names
// the setting and the reason, and never prints the key.
void tst_Daemon::secretKeyFileRefused_data()
{
    QTest::addColumn<QByteArray>("content"); // empty: no file
    QTest::addColumn<int>("permissions");
    QTest::addColumn<QString>("reason");
    const int ownerRw = int(QFile::ReadOwner | QFile::WriteOwner);
    const QByteArray key =
        QByteArray::fromHex("5ec7e7b10cc5a1d3f00dfeed0123456789abcdef0123456789abcdef01234567");
    QTest::newRow("missing") << QByteArray() << ownerRw << QStringLiteral("does not exist");
    QTest::newRow("readable by others (0644)")
        << key << int(ownerRw | QFile::ReadGroup | QFile::ReadOther) << QStringLiteral("mode is 0644");
    QTest::newRow("readable by the group (0640)")
        << key << int(ownerRw | QFile::ReadGroup) << QStringLiteral("mode is 0640");
    QTest::newRow("31 bytes") << key.left(31) << ownerRw << QStringLiteral("31 bytes long");
}

void tst_Daemon::secretKeyFileRefused()
{
    QFETCH(QByteArray, content);
    QFETCH(int, permissions);
    QFETCH(QString, reason);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString keyPath = dir.filePath(QStringLiteral("upstream.key"));
    if (!content.isEmpty()) {
        QFile file(keyPath);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QCOMPARE(file.write(content), content.size());
        file.close();
        QVERIFY(file.setPermissions(QFile::Permissions(permissions)));
    }
    QFile secret(dir.filePath(QStringLiteral("client-secret")));
    QVERIFY(secret.open(QIODevice::WriteOnly));
    secret.write("client-secret-value");
    secret.close();
    QVERIFY(secret.setPermissions(QFile::ReadOwner | QFile::WriteOwner));

    DaemonProcess daemon;
    QVERIFY(daemon.run(
        {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"), QStringLiteral("--child-command"),
         DaemonProcess::testServerPath(), QStringLiteral("--public-url"),
         QStringLiteral("http://127.0.0.1:9"), QStringLiteral("--forgejo-url"),
         QStringLiteral("http://127.0.0.1:9"), QStringLiteral("--forgejo-client-id"), QStringLiteral("fmb"),
         QStringLiteral("--forgejo-client-secret-file"), secret.fileName(), QStringLiteral("--state-dir"),
         dir.filePath(QStringLiteral("state")), QStringLiteral("--secret-key-file"), keyPath}));
    QVERIFY(daemon.waitForExit());
    QVERIFY(daemon.exitCode() != 0);
    const QByteArray log = daemon.log();
    QVERIFY2(log.contains("secret_key_file: key file: "), log.constData());
    QVERIFY2(log.contains(reason.toUtf8()), log.constData());
    QVERIFY(!log.contains("listening on"));
    if (!content.isEmpty()) {
        QVERIFY(!log.contains(content.toHex()));
        QVERIFY(!log.contains(content.toBase64()));
    }
    // Refused, not made: a broker never writes a key of its own in a cluster.
    QCOMPARE(QFileInfo::exists(keyPath), !content.isEmpty());
}

// Idle sessions are evicted within a bounded wait; an open GET stream is
// activity. The tests never touch the idle session while they wait: any
// request to it would count as activity.
void tst_Daemon::idleReaper()
{
    DaemonProcess daemon;
    QVERIFY(daemon.start({QStringLiteral("--idle-timeout"), QStringLiteral("1"),
                          QStringLiteral("--reap-interval"), QStringLiteral("1")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();

    const QByteArray streaming = openSession(port);
    QVERIFY(!streaming.isEmpty());
    const qint64 streamingPid = childPid(port, streaming);
    std::unique_ptr<HttpConnection> stream = openGet(port, streaming);
    QCOMPARE(stream->response().status, 200);

    const QByteArray idle = openSession(port);
    QVERIFY(!idle.isEmpty());
    const qint64 idlePid = childPid(port, idle);
    QVERIFY(fmbtest::processAlive(idlePid));

    QTRY_VERIFY2_WITH_TIMEOUT(daemon.log().contains(evictionLine(idle)), daemon.log().constData(), WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(!fmbtest::processAlive(idlePid), WaitMs);
    QCOMPARE(post(port, idle, toolCall(5, QStringLiteral("echo"), {{QLatin1String("text"), 1}})).status, 404);

    // A later session as the clock: by the time it is reaped, the streaming
    // session has gone through several more reap intervals.
    const QByteArray clock = openSession(port);
    QVERIFY(!clock.isEmpty());
    QTRY_VERIFY2_WITH_TIMEOUT(daemon.log().contains(evictionLine(clock)), daemon.log().constData(), WaitMs);
    QVERIFY2(!daemon.log().contains(evictionLine(streaming)), daemon.log().constData());
    QVERIFY(!stream->closed());
    QVERIFY(!stream->response().complete);
    QVERIFY(fmbtest::processAlive(streamingPid));
    const HttpResponse echo =
        post(port, streaming,
             toolCall(5, QStringLiteral("echo"), {{QLatin1String("text"), QLatin1String("alive")}}));
    QCOMPARE(echo.status, 200);
    QCOMPARE(toolText(echo), QStringLiteral("alive"));
}

// A GET stream is activity while it is open; once it closes, the idle time
// counts from then, so a client whose long-lived stream drops still has
// idle_timeout to reconnect. A session created when the stream drops is the
// witness: both must be reaped in the same pass, or one apart.
void tst_Daemon::idleTimeCountsFromStreamClose()
{
    DaemonProcess daemon;
    QVERIFY(daemon.start({QStringLiteral("--idle-timeout"), QStringLiteral("3"),
                          QStringLiteral("--reap-interval"), QStringLiteral("1")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();

    const QByteArray streaming = openSession(port);
    QVERIFY(!streaming.isEmpty());
    std::unique_ptr<HttpConnection> stream = openGet(port, streaming);
    QCOMPARE(stream->response().status, 200);
    // Keep the stream open for longer than the idle timeout: until a session made after it is reaped.
    const QByteArray clock = openSession(port);
    QVERIFY(!clock.isEmpty());
    QTRY_VERIFY2_WITH_TIMEOUT(daemon.log().contains(evictionLine(clock)), daemon.log().constData(), WaitMs);
    // Still there (a refused second GET is no activity, unlike a POST).
    QCOMPARE(openGet(port, streaming)->response().status, 409);

    stream->abort();
    const QByteArray witness = openSession(port);
    QVERIFY(!witness.isEmpty());
    QTRY_VERIFY2_WITH_TIMEOUT(daemon.log().contains(evictionLine(streaming)) &&
                                  daemon.log().contains(evictionLine(witness)),
                              daemon.log().constData(), WaitMs);
    const QDateTime streamingEvicted = evictionTime(daemon.log(), streaming);
    const QDateTime witnessEvicted = evictionTime(daemon.log(), witness);
    QVERIFY(streamingEvicted.isValid() && witnessEvicted.isValid());
    QVERIFY2(streamingEvicted.msecsTo(witnessEvicted) <= 1500,
             qPrintable(QStringLiteral("the session whose stream closed was evicted %1 ms before the witness")
                            .arg(streamingEvicted.msecsTo(witnessEvicted))));
}

// The child sees --child-env values; the daemon's log never shows one, not
// even when the child prints it to stderr or debug logging is on.
void tst_Daemon::secretsStayOutOfTheLog()
{
    DaemonProcess daemon;
    daemon.setEnvironmentValue(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("fmb.*.debug=true"));
    QVERIFY(daemon.start(
        {QStringLiteral("--child-env"), QStringLiteral("FMB_SECRET_TOKEN=") + QString::fromLatin1(Secret)}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();
    const QByteArray session = openSession(port);
    QVERIFY(!session.isEmpty());

    const HttpResponse env =
        post(port, session,
             toolCall(5, QStringLiteral("env"),
                      {{QLatin1String("names"), QJsonArray{QLatin1String("FMB_SECRET_TOKEN")}}}));
    QCOMPARE(env.status, 200);
    QCOMPARE(QJsonDocument::fromJson(toolText(env).toUtf8())
                 .object()
                 .value(QLatin1String("FMB_SECRET_TOKEN"))
                 .toString(),
             QString::fromLatin1(Secret));

    const HttpResponse printed =
        post(port, session,
             toolCall(6, QStringLiteral("stderr"),
                      {{QLatin1String("text"),
                        QString(QLatin1String("upstream token is ") + QString::fromLatin1(Secret))},
                       {QLatin1String("count"), 2}}));
    QCOMPARE(printed.status, 200);
    // The child's line arrives redacted to the secret's fingerprint.
    const QByteArray redacted = "upstream token is [redacted:" + fmb::fingerprint(Secret).toLatin1() + ']';
    QTRY_VERIFY2_WITH_TIMEOUT(daemon.log().contains(redacted), daemon.log().constData(), WaitMs);

    daemon.terminate();
    QTRY_VERIFY_WITH_TIMEOUT(!daemon.isRunning(), WaitMs);
    QVERIFY2(!daemon.log().contains(Secret), daemon.log().constData());
    QVERIFY2(!daemon.standardOutput().contains(Secret), daemon.standardOutput().constData());
}

void tst_Daemon::stopSignalEndsEveryChild_data()
{
    QTest::addColumn<int>("signalNumber");
    QTest::newRow("SIGTERM") << int(SIGTERM);
    QTest::newRow("SIGINT") << int(SIGINT);
}

// A stop signal with idle, streaming and busy sessions: every child stops,
// every client gets its end, the daemon exits 0.
void tst_Daemon::stopSignalEndsEveryChild()
{
    QFETCH(int, signalNumber);

    DaemonProcess daemon;
    QVERIFY(daemon.start({}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();

    QList<qint64> pids;
    QList<QByteArray> sessions;
    for (int i = 0; i < 3; ++i) {
        sessions.append(openSession(port));
        QVERIFY(!sessions.constLast().isEmpty());
        pids.append(childPid(port, sessions.constLast()));
        QVERIFY(fmbtest::processAlive(pids.constLast()));
    }
    std::unique_ptr<HttpConnection> stream = openGet(port, sessions.at(1));
    QCOMPARE(stream->response().status, 200);
    HttpConnection busy(port);
    QVERIFY(busy.open());
    busy.send("POST", "/mcp", mcpHeaders(port, sessions.at(2)),
              toolCall(5, QStringLiteral("slow"), {{QLatin1String("ms"), 60000}}));
    const auto pendingSlow = [port, &sessions] {
        const HttpResponse state = post(port, sessions.at(2), toolCall(900, QStringLiteral("state")));
        return QJsonDocument::fromJson(toolText(state).toUtf8())
            .object()
            .value(QLatin1String("pendingSlow"))
            .toInt();
    };
    QTRY_COMPARE_WITH_TIMEOUT(pendingSlow(), 1, WaitMs);

    QSignalSpy finished(&daemon, &DaemonProcess::finished);
    daemon.sendSignal(signalNumber);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, WaitMs);
    QCOMPARE(finished.at(0).at(1).value<QProcess::ExitStatus>(), QProcess::NormalExit);
    QVERIFY2(finished.at(0).at(0).toInt() == 0, daemon.log().constData());
    for (qint64 pid : std::as_const(pids))
        QTRY_VERIFY2_WITH_TIMEOUT(!fmbtest::processAlive(pid), qPrintable(QString::number(pid)), WaitMs);

    // Nobody is left waiting: the busy request got an error, the stream its end.
    QVERIFY(busy.readBody());
    QCOMPARE(busy.response().json().value(QLatin1String("id")).toInt(), 5);
    QVERIFY2(busy.response().rpcErrorCode() != 0, busy.response().body.constData());
    (void)stream->readAllEvents();
    QVERIFY(stream->response().complete);
}

// Over --max-body-bytes (announced, or only counted for a chunked body) or an
// endless request head: refused while it arrives, with an answer the client
// gets to read, then the connection closes; other connections are untouched.
void tst_Daemon::oversizedRequestRefusedAtOnce_data()
{
    QTest::addColumn<QByteArray>("head");  // request line and headers
    QTest::addColumn<QByteArray>("chunk"); // written after the head until 8 MiB are out
    QTest::addColumn<int>("status");

    const QByteArray post = "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\n"
                            "Accept: application/json, text/event-stream\r\n";
    const QByteArray body(64 * 1024, 'x');
    QTest::newRow("Content-Length over the limit")
        << QByteArray(post + "Content-Length: " + QByteArray::number(8 * 1024 * 1024) + "\r\n\r\n") << body
        << 413;
    QTest::newRow("chunked body over the limit") << QByteArray(post + "Transfer-Encoding: chunked\r\n\r\n")
                                                 << QByteArray("10000\r\n" + body + "\r\n") << 413;
    QTest::newRow("endless request head")
        << post << QByteArray("X-Padding: " + QByteArray(1000, 'p') + "\r\n") << 431;
}

void tst_Daemon::oversizedRequestRefusedAtOnce()
{
    QFETCH(QByteArray, head);
    QFETCH(QByteArray, chunk);
    QFETCH(int, status);

    DaemonProcess daemon;
    QVERIFY(daemon.start({QStringLiteral("--max-body-bytes"), QStringLiteral("1MiB")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();

    HttpConnection connection(port);
    QVERIFY(connection.open());
    QElapsedTimer timer;
    timer.start();
    QByteArray request = head;
    request.insert(request.indexOf("\r\n") + 2, "Host: 127.0.0.1:" + QByteArray::number(port) + "\r\n");
    while (request.size() < 8 * 1024 * 1024)
        request += chunk;
    connection.socket().write(request);
    QVERIFY2(connection.readHead(5000), daemon.log().constData());
    const qint64 answeredMs = timer.elapsed();
    QCOMPARE(connection.response().status, status);
    QVERIFY2(answeredMs < 3000, qPrintable(QStringLiteral("answered after %1 ms").arg(answeredMs)));

    QCOMPARE(exchange(port, "GET", "/healthz", baseHeaders(port)).status, 200);
    QVERIFY(!openSession(port).isEmpty());
    QVERIFY(connection.waitClosed());
    QVERIFY(daemon.isRunning());
}

// Each session holds a child's descriptors: with a small open-file limit the
// daemon refuses sessions it has no descriptors for with 503, never with a
// 502 from a failed spawn, and the sessions it has keep working.
void tst_Daemon::sessionsBeyondTheFileLimitGet503()
{
    DaemonProcess daemon;
    daemon.setChildProcessModifier(openFileLimit(160));
    QVERIFY(daemon.start({QStringLiteral("--max-sessions"), QStringLiteral("100")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();
    static const QRegularExpression room(
        QStringLiteral("open-file limit of 160 has room for (\\d+) sessions"));
    const QRegularExpressionMatch match = room.match(QString::fromUtf8(daemon.log()));
    QVERIFY2(match.hasMatch(), daemon.log().constData());
    const int ceiling = match.captured(1).toInt();
    QVERIFY(ceiling > 2 && ceiling < 40);
    QVERIFY2(daemon.log().contains("max_sessions 100 is more than the open-file limit has room for"),
             daemon.log().constData());

    QList<QByteArray> sessions;
    for (int i = 0; i < ceiling; ++i) {
        const QByteArray session = openSession(port);
        QVERIFY2(!session.isEmpty(), daemon.log().constData());
        sessions.append(session);
    }
    for (int i = 0; i < 10; ++i) {
        const HttpResponse refused = post(port, {}, initializeRequest());
        QCOMPARE(refused.status, 503);
        QVERIFY(refused.header("retry-after").toInt() > 0);
    }
    for (const QByteArray &session : {sessions.first(), sessions.last()}) {
        const HttpResponse echo =
            post(port, session,
                 toolCall(7, QStringLiteral("echo"), {{QLatin1String("text"), QLatin1String("ok")}}));
        QCOMPARE(echo.status, 200);
        QCOMPARE(toolText(echo), QStringLiteral("ok"));
    }
    // A session that has ended (and whose child has exited) frees its place.
    QCOMPARE(deleteSession(port, sessions.takeFirst()).status, 200);
    QVERIFY2(QTest::qWaitFor([port] { return !openSession(port).isEmpty(); }, WaitMs),
             daemon.log().constData());
    QVERIFY(!daemon.log().contains("Too many open files"));
    QVERIFY(daemon.isRunning());
}

void tst_Daemon::childStdioFollowsTheFileLimit_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("stdio");
    QTest::addColumn<int>("ceiling");

    // Under a limit of 160: (160 - 64 - 160/8) / 4 = 19 sessions with pipes, / 3 = 25 with the socket.
    const QString maxSessions = QStringLiteral("--max-sessions");
    const QString stdio = QStringLiteral("--child-stdio");
    QTest::newRow("auto: max_sessions fits with pipes")
        << QStringList{maxSessions, QStringLiteral("19")} << QStringLiteral("pipes") << 19;
    QTest::newRow("auto: max_sessions fits only with the socket")
        << QStringList{maxSessions, QStringLiteral("20")} << QStringLiteral("socket") << 25;
    QTest::newRow("pipes asked for") << QStringList{maxSessions, QStringLiteral("100"), stdio,
                                                    QStringLiteral("pipes")}
                                     << QStringLiteral("pipes") << 19;
    QTest::newRow("socket asked for")
        << QStringList{maxSessions, QStringLiteral("5"), stdio, QStringLiteral("socket")}
        << QStringLiteral("socket") << 25;
}

void tst_Daemon::childStdioFollowsTheFileLimit()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, stdio);
    QFETCH(int, ceiling);

    DaemonProcess daemon;
    daemon.setChildProcessModifier(openFileLimit(160));
    QVERIFY(daemon.start(arguments));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const QByteArray logged =
        QStringLiteral("children's stdin and stdout: %1 (%2 descriptors per session")
            .arg(stdio == QLatin1String("socket") ? QStringLiteral("one socket") : stdio)
            .arg(stdio == QLatin1String("socket") ? 3 : 4)
            .toUtf8();
    QVERIFY2(daemon.log().contains(logged), daemon.log().constData());
    QVERIFY2(daemon.log().contains(
                 QStringLiteral("open-file limit of 160 has room for %1 sessions").arg(ceiling).toUtf8()),
             daemon.log().constData());

    // What the child really got as its stdin and stdout.
    const QByteArray session = openSession(daemon.port());
    QVERIFY2(!session.isEmpty(), daemon.log().constData());
    const qint64 pid = childPid(daemon.port(), session);
    QVERIFY(pid > 0);
    const QString in = QFile::symLinkTarget(QStringLiteral("/proc/%1/fd/0").arg(pid));
    const QString out = QFile::symLinkTarget(QStringLiteral("/proc/%1/fd/1").arg(pid));
    const QString kind =
        stdio == QLatin1String("socket") ? QStringLiteral("socket:[") : QStringLiteral("pipe:[");
    QVERIFY2(QFileInfo(in).fileName().startsWith(kind), qPrintable(in));
    QVERIFY2(QFileInfo(out).fileName().startsWith(kind), qPrintable(out));
    QCOMPARE(in == out, stdio == QLatin1String("socket"));
}

// A relative --admin-socket is taken from the working directory.
void tst_Daemon::relativeAdminSocketPath()
{
    QTemporaryDir directory;
    QVERIFY(directory.isValid());
    DaemonProcess daemon;
    daemon.setWorkingDirectory(directory.path());
    QVERIFY(daemon.start({QStringLiteral("--admin-socket"), QStringLiteral("rel/admin.sock")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const QString socket = directory.filePath(QStringLiteral("rel/admin.sock"));
    QVERIFY2(daemon.log().contains(QByteArray("admin socket listening on " + socket.toUtf8())),
             daemon.log().constData());
    QVERIFY(QFileInfo(socket).exists());
    QVERIFY(daemon.isRunning());
}

// Children start from an allow-list (issue 11): PATH and the like, the
// names passed with --child-pass-env and --child-env; nothing else of the
// daemon's environment, FMB_* least of all.
void tst_Daemon::childEnvironmentIsAnAllowList()
{
    DaemonProcess daemon;
    daemon.setEnvironmentValue(QStringLiteral("FMB_TEST_UNUSED"), QString::fromLatin1(Secret));
    daemon.setEnvironmentValue(QStringLiteral("RANDOM_PARENT_VARIABLE"), QStringLiteral("leak"));
    daemon.setEnvironmentValue(QStringLiteral("PASSED_VARIABLE"), QStringLiteral("passed"));
    QVERIFY(daemon.start({QStringLiteral("--child-pass-env"), QStringLiteral("PASSED_VARIABLE"),
                          QStringLiteral("--child-env"), QStringLiteral("SET_VARIABLE=set")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();
    const QByteArray session = openSession(port);
    QVERIFY(!session.isEmpty());

    const HttpResponse names = post(port, session, toolCall(5, QStringLiteral("environ")));
    QCOMPARE(names.status, 200);
    QStringList variables;
    for (const QJsonValue &name : QJsonDocument::fromJson(toolText(names).toUtf8()).array())
        variables.append(name.toString());
    const QStringList expected{QStringLiteral("LANG"), QStringLiteral("LC_ALL"),
                               QStringLiteral("PASSED_VARIABLE"), QStringLiteral("PATH"),
                               QStringLiteral("SET_VARIABLE")};
    QStringList unexpected;
    for (const QString &variable : std::as_const(variables)) {
        if (!expected.contains(variable) && variable != QLatin1String("HOME") &&
            variable != QLatin1String("TZ") && !variable.startsWith(QLatin1String("LC_")))
            unexpected.append(variable);
    }
    QVERIFY2(unexpected.isEmpty(), qPrintable(unexpected.join(QLatin1Char(' '))));
    for (const QString &variable : expected)
        QVERIFY2(variables.contains(variable), qPrintable(variable));

    const HttpResponse values =
        post(port, session,
             toolCall(6, QStringLiteral("env"),
                      {{QLatin1String("names"), QJsonArray{QLatin1String("PASSED_VARIABLE")}}}));
    QCOMPARE(
        QJsonDocument::fromJson(toolText(values).toUtf8()).object().value(QLatin1String("PASSED_VARIABLE")),
        QJsonValue(QStringLiteral("passed")));
}

// A child cannot open the key, the store, anything in the state directory or
// the config file, even though they lie under a path it may write to (issue 11).
void tst_Daemon::childCannotReachTheState()
{
    if (const QString missing = landlockMissing(); !missing.isEmpty())
        QSKIP(qPrintable(missing));
    QTemporaryDir directory;
    QVERIFY(directory.isValid());
    const QDir root(directory.path());
    QVERIFY(root.mkpath(QStringLiteral("state")));
    QVERIFY(root.mkpath(QStringLiteral("work")));
    for (const char *name : {"state/upstream-tokens.key", "state/tokens.sqlite", "broker.ini"}) {
        QFile file(root.filePath(QString::fromLatin1(name)));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QByteArray(name).endsWith(".ini") ? "max_sessions = 10\n" : "secret\n");
    }
    DaemonProcess daemon;
    QVERIFY(daemon.start({QStringLiteral("--config"), root.filePath(QStringLiteral("broker.ini")),
                          QStringLiteral("--state-dir"), root.filePath(QStringLiteral("state")),
                          QStringLiteral("--child-allow-write"), root.path(),
                          QStringLiteral("--child-sandbox"), QStringLiteral("require")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    QVERIFY2(daemon.log().contains("children run in a Landlock sandbox"), daemon.log().constData());
    const quint16 port = daemon.port();
    const QByteArray session = openSession(port);
    QVERIFY2(!session.isEmpty(), daemon.log().constData());

    const auto open = [&](int id, const QStringList &names, const QString &mode) {
        QJsonArray paths;
        for (const QString &name : names)
            paths.append(root.filePath(name));
        const HttpResponse response =
            post(port, session,
                 toolCall(id, QStringLiteral("open"),
                          {{QLatin1String("paths"), paths}, {QLatin1String("mode"), mode}}));
        return QJsonDocument::fromJson(toolText(response).toUtf8()).object();
    };
    const QJsonObject read =
        open(5,
             {QStringLiteral("state/upstream-tokens.key"), QStringLiteral("state/tokens.sqlite"),
              QStringLiteral("broker.ini"), QStringLiteral("work")},
             QStringLiteral("read"));
    const QJsonObject written =
        open(6, {QStringLiteral("state/planted"), QStringLiteral("work/allowed")}, QStringLiteral("write"));
    const QJsonObject expected{
        {root.filePath(QStringLiteral("state/upstream-tokens.key")), QStringLiteral("EACCES")},
        {root.filePath(QStringLiteral("state/tokens.sqlite")), QStringLiteral("EACCES")},
        {root.filePath(QStringLiteral("broker.ini")), QStringLiteral("EACCES")},
        {root.filePath(QStringLiteral("work")), QStringLiteral("ok")}};
    QCOMPARE(read, expected);
    const QJsonObject expectedWritten{
        {root.filePath(QStringLiteral("state/planted")), QStringLiteral("EACCES")},
        {root.filePath(QStringLiteral("work/allowed")), QStringLiteral("ok")}};
    QCOMPARE(written, expectedWritten);
    QVERIFY(!QFile::exists(root.filePath(QStringLiteral("state/planted"))));
}

// Landlock cannot allow a path but a protected one inside it; a path inside
// a protected one is refused outright, before the daemon listens.
void tst_Daemon::allowedPathInsideTheStateIsRefused()
{
    if (const QString missing = landlockMissing(); !missing.isEmpty())
        QSKIP(qPrintable(missing));
    QTemporaryDir directory;
    QVERIFY(directory.isValid());
    const QString inside = QDir(directory.path()).filePath(QStringLiteral("inside"));
    QVERIFY(QDir().mkpath(inside));
    DaemonProcess daemon;
    QVERIFY(daemon.start(
        {QStringLiteral("--state-dir"), directory.path(), QStringLiteral("--child-allow-read"), inside}));
    QTRY_VERIFY_WITH_TIMEOUT(!daemon.isRunning(), WaitMs);
    QCOMPARE(daemon.exitCode(), 1);
    QVERIFY2(daemon.log().contains(QByteArray("child_allow_read: " + inside.toUtf8() + " lies in state_dir")),
             daemon.log().constData());
    QVERIFY(!daemon.log().contains("listening on http://"));
}

void tst_Daemon::withoutLandlock_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<bool>("serves");
    QTest::addColumn<QByteArray>("logged");

    QTest::newRow("auto: a warning, children unconfined")
        << QStringLiteral("auto") << true << QByteArray("children run without a Landlock sandbox");
    QTest::newRow("require: refuses to start")
        << QStringLiteral("require") << false
        << QByteArray("child_sandbox: \"require\", but the kernel has no "
                      "Landlock");
}

void tst_Daemon::withoutLandlock()
{
    QFETCH(QString, mode);
    QFETCH(bool, serves);
    QFETCH(QByteArray, logged);

    DaemonProcess daemon;
    daemon.setChildProcessModifier(hideLandlock);
    QVERIFY(daemon.start({QStringLiteral("--child-sandbox"), mode}));
    if (serves) {
        QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
        QVERIFY(!openSession(daemon.port()).isEmpty());
        QCOMPARE(daemon.log().count(logged), 1); // once, at start
    } else {
        QTRY_VERIFY_WITH_TIMEOUT(!daemon.isRunning(), WaitMs);
        QCOMPARE(daemon.exitCode(), 1);
        QVERIFY(!daemon.log().contains("listening on http://"));
    }
    QVERIFY2(daemon.log().contains(logged), daemon.log().constData());
}

void tst_Daemon::configErrors_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<int>("exitCode"); // -1: any non-zero
    QTest::addColumn<QByteArray>("named");

    const QStringList child{QStringLiteral("--child-command"), DaemonProcess::testServerPath()};
    QTest::newRow("child_stdio is not a choice")
        << QStringList{QStringLiteral("--child-stdio"), QStringLiteral("fifo")} + child << 2
        << QByteArray("child_stdio");
    QTest::newRow("max_sessions is not a number")
        << QStringList{QStringLiteral("--max-sessions"), QStringLiteral("abc")} + child << 2
        << QByteArray("max_sessions");
    QTest::newRow("auth none on 0.0.0.0 is refused")
        << QStringList{QStringLiteral("--auth"), QStringLiteral("none"), QStringLiteral("--listen"),
                       QStringLiteral("0.0.0.0:0")} +
               child
        << -1 << QByteArray("auth");
    QTest::newRow("idle_timeout is not a duration")
        << QStringList{QStringLiteral("--idle-timeout"), QStringLiteral("15x")} + child << 2
        << QByteArray("idle_timeout");
    QTest::newRow("child_sandbox is not a choice")
        << QStringList{QStringLiteral("--child-sandbox"), QStringLiteral("maybe")} + child << 2
        << QByteArray("child_sandbox");
    QTest::newRow("child_pass_env names a broker setting")
        << QStringList{QStringLiteral("--child-pass-env"), QStringLiteral("FMB_CHILD_ENV")} + child << 2
        << QByteArray("child_pass_env: FMB_CHILD_ENV");
    QTest::newRow("child_allow_write is relative")
        << QStringList{QStringLiteral("--child-allow-write"), QStringLiteral("tmp")} + child << 2
        << QByteArray("child_allow_write");
    QTest::newRow("child_command is missing") << QStringList{} << 2 << QByteArray("child_command");
    QTest::newRow("unknown flag") << QStringList{QStringLiteral("--no-such-flag")} + child << 2
                                  << QByteArray("--no-such-flag");
    const QStringList local{QStringLiteral("--auth"), QStringLiteral("none"), QStringLiteral("--listen"),
                            QStringLiteral("127.0.0.1:0")};
    QTest::newRow("admin_socket too long for a Unix socket")
        << QStringList{QStringLiteral("--admin-socket"),
                       QLatin1String("/tmp/") + QString(120, QLatin1Char('a'))} +
               local + child
        << 2 << QByteArray("admin_socket");
    QTest::newRow("admin socket path taken by a file: fails before HTTP listens")
        << QStringList{QStringLiteral("--admin-socket"), QStringLiteral("/dev/null")} + local + child << 1
        << QByteArray("admin socket /dev/null");
}

void tst_Daemon::configErrors()
{
    QFETCH(QStringList, arguments);
    QFETCH(int, exitCode);
    QFETCH(QByteArray, named);

    DaemonProcess daemon;
    QVERIFY(daemon.run(arguments));
    QTRY_VERIFY_WITH_TIMEOUT(!daemon.isRunning(), WaitMs);
    QCOMPARE(daemon.exitStatus(), QProcess::NormalExit);
    if (exitCode < 0)
        QVERIFY2(daemon.exitCode() != 0, daemon.log().constData());
    else
        QCOMPARE(daemon.exitCode(), exitCode);
    QVERIFY2(daemon.log().contains(named), daemon.log().constData());
    QVERIFY(!daemon.log().contains("listening on http://"));
}

// Issue 11, 5a: a body that starts with a UTF-8 byte order mark was
// forwarded raw, the child could not parse it and the POST hung with its id
// stuck. It is refused with 400 and a -32700 body, and the id stays free.
void tst_Daemon::byteOrderMarkRefused_data()
{
    QTest::addColumn<bool>("initialize");
    QTest::newRow("initialize") << true;
    QTest::newRow("tools/call on a session") << false;
}

void tst_Daemon::byteOrderMarkRefused()
{
    QFETCH(bool, initialize);
    const QByteArray bom = "\xEF\xBB\xBF";
    const QByteArray body = initialize ? initializeRequest() : toolCall(77, QStringLiteral("echo"));
    const HttpResponse refused = post(m_port, initialize ? QByteArray() : m_session, bom + body);
    QCOMPARE(refused.status, 400);
    const QJsonObject error = refused.json().value(QLatin1String("error")).toObject();
    QCOMPARE(error.value(QLatin1String("code")).toInt(), -32700);
    QVERIFY2(error.value(QLatin1String("message")).toString().contains(QLatin1String("byte order mark")),
             refused.body.constData());
    if (!initialize)
        QCOMPARE(post(m_port, m_session, body).status, 200); // id 77 is not "already in use"
}

// Issue 11, 5c: a session id is a bearer of the session (with the token), so
// the log shows only its first 8 hex digits, at every level.
void tst_Daemon::sessionIdsLoggedAsPrefix()
{
    DaemonProcess daemon;
    daemon.setEnvironmentValue(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("fmb.*.debug=true"));
    QVERIFY(daemon.start({QStringLiteral("--idle-timeout"), QStringLiteral("1s"),
                          QStringLiteral("--reap-interval"), QStringLiteral("1s")}));
    QVERIFY2(daemon.waitForListening(), qPrintable(daemon.failure()));
    const quint16 port = daemon.port();
    const QByteArray ended = openSession(port);
    const QByteArray reaped = openSession(port);
    QVERIFY(!ended.isEmpty() && !reaped.isEmpty());
    QCOMPARE(post(port, ended, toolCall(2, QStringLiteral("echo"), {{QLatin1String("text"), 1}})).status,
             200);
    // A response to no pending request is logged at debug with the session.
    QCOMPARE(post(port, ended, R"({"jsonrpc":"2.0","id":"nobody","result":{}})").status, 202);
    QCOMPARE(deleteSession(port, ended).status, 200);
    QTRY_VERIFY2_WITH_TIMEOUT(daemon.log().contains(evictionLine(reaped)), daemon.log().constData(), WaitMs);

    daemon.terminate();
    QTRY_VERIFY_WITH_TIMEOUT(!daemon.isRunning(), WaitMs);
    for (const QByteArray &session : {ended, reaped}) {
        QVERIFY2(daemon.log().contains(QByteArray("session " + session.right(48).left(8))),
                 daemon.log().constData());
        QVERIFY2(!daemon.log().contains(session), daemon.log().constData());
        QVERIFY2(!daemon.standardOutput().contains(session), daemon.standardOutput().constData());
    }
}

void tst_Daemon::helpNamesEveryFlag_data()
{
    QTest::addColumn<QByteArray>("flag");
    const char *const flags[] = {"--config",           "--listen",        "--auth",
                                 "--child-command",    "--child-env",     "--max-sessions",
                                 "--idle-timeout",     "--reap-interval", "--allowed-origin",
                                 "--child-pass-env",   "--child-sandbox", "--child-allow-read",
                                 "--child-allow-write"};
    for (const char *flag : flags)
        QTest::newRow(flag) << QByteArray(flag);
}

void tst_Daemon::helpNamesEveryFlag()
{
    QFETCH(QByteArray, flag);

    DaemonProcess daemon;
    QVERIFY(daemon.run({QStringLiteral("--help")}));
    QTRY_VERIFY_WITH_TIMEOUT(!daemon.isRunning(), WaitMs);
    QCOMPARE(daemon.exitCode(), 0);
    const QByteArray help = daemon.standardOutput();
    QVERIFY2(help.contains(QByteArray("\n  " + flag + ' ')), help.constData());
}

QTEST_GUILESS_MAIN(tst_Daemon)
#include "tst_daemon.moc"

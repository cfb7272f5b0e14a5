#include <cerrno>
#include <memory>

#include <signal.h>
#include <sys/types.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTest>

#include "TestSink.h"
#include "child/ChildProcess.h"
#include "session/Logging.h"
#include "session/Session.h"

using namespace fmb;
using namespace fmb::test;

namespace {

const QString Latest = QStringLiteral("2025-11-25");

QString method(const TestSink::Event &event)
{
    return parseObject(event.data).value(QLatin1String("method")).toString();
}

QJsonValue eventId(const TestSink::Event &event)
{
    return parseObject(event.data).value(QLatin1String("id"));
}

QList<TestSink::Event> withMethod(const QList<TestSink::Event> &events, const QString &name)
{
    QList<TestSink::Event> out;
    for (const TestSink::Event &event : events) {
        if (method(event) == name)
            out.append(event);
    }
    return out;
}

QJsonObject progressParams(const TestSink::Event &event)
{
    return parseObject(event.data).value(QLatin1String("params")).toObject();
}

// Counts the fmb.session warnings about stdout lines that are not JSON-RPC,
// and how many lines their suppression counts stand for, while installed.
struct JunkLogCounter {
    JunkLogCounter() { s_previous = qInstallMessageHandler(&JunkLogCounter::handle); }
    ~JunkLogCounter() { qInstallMessageHandler(s_previous); }

    static void handle(QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        if (qstrcmp(context.category, "fmb.session") == 0 &&
            message.contains(QLatin1String("not JSON-RPC"))) {
            ++s_lines;
            static const QRegularExpression count(QStringLiteral(": (\\d+) more lines"));
            const QRegularExpressionMatch match = count.match(message);
            s_accounted += match.hasMatch() ? match.captured(1).toLongLong() : 1;
            return;
        }
        s_previous(type, context, message);
    }

    static inline QtMessageHandler s_previous = nullptr;
    static inline int s_lines = 0;        // log lines written
    static inline qint64 s_accounted = 0; // junk lines those log lines account for
};

bool processGone(qint64 pid)
{
    return ::kill(pid_t(pid), 0) == -1 && errno == ESRCH;
}

} // namespace

class tst_Session : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void initialize_data();
    void initialize();
    void plainJsonWhenOnlyAResponse();
    void batchAnsweredAsOneJsonArray();
    void clientGoneBeforeTheAnswer();
    void notificationsUpgradeToSse_data();
    void notificationsUpgradeToSse();
    void progressRoutedByToken();
    void serverRequestRoundTrip();
    void userChildResumesACallAfterInput();
    void clientResponseToNoServerRequestIsDropped_data();
    void clientResponseToNoServerRequestIsDropped();
    void subscriptionsBeyondTheCapAreRefused();
    void pendingRequestsBeyondTheCapAreRefused();
    void serverRequestsBeyondTheCapAreRefused();
    void standaloneStreamBuffersUntilOpened_data();
    void standaloneStreamBuffersUntilOpened();
    void resumeWithLastEventId_data();
    void resumeWithLastEventId();
    void retainedStreamsAreBounded();
    void secondGetStreamConflicts();
    void duplicateRequestIdConflicts_data();
    void duplicateRequestIdConflicts();
    void childCrashFailsPending();
    void failedInitializeIs502_data();
    void failedInitializeIs502();
    void respawnReplaysAndSwaps();
    void respawnFailureKeepsOldBackend_data();
    void respawnFailureKeepsOldBackend();
    void secondRespawnWhileUnderWayFails();
    void respawnTimesOut();
    void drainingChildDeathFailsOnlyItsRequests();
    void cancelledRequestIsReleased_data();
    void cancelledRequestIsReleased();
    void cancelOnDrainingBackend();
    void stopIsIdempotent();
    void junkOnStdoutIsLoggedRateLimited();
    void answeredSessionHoldsNoRequestTable();

private:
    Session *newSession(std::unique_ptr<ChildProcess> child = {}, StreamLimits limits = {},
                        QPointer<ChildProcess> *started = nullptr);
    TestSink *newSink() { return new TestSink(m_scope.get()); }
    // A session with these limits, initialized; null when it did not get ready.
    Session *readySession(StreamLimits limits);
    // What the test server has recorded (its `state` tool); empty when it did not answer.
    QJsonObject serverState(Session &session, int requestId);

    std::unique_ptr<QObject> m_scope; // owns this test's sinks and sessions
    QList<QPointer<Session>> m_sessions;
    QSet<QString> m_finished;
    int m_nextSession = 0;
};

void tst_Session::init()
{
    m_scope = std::make_unique<QObject>();
    m_sessions.clear();
    m_finished.clear();
}

void tst_Session::cleanup()
{
    // Every child must be gone before the next test: stop, then wait for finished().
    for (const QPointer<Session> &session : std::as_const(m_sessions)) {
        if (session)
            session->stop(QStringLiteral("test over"));
    }
    for (const QPointer<Session> &session : std::as_const(m_sessions)) {
        if (session)
            QTRY_VERIFY_WITH_TIMEOUT(m_finished.contains(session->id()), 10000);
    }
    m_scope.reset();
}

Session *tst_Session::newSession(std::unique_ptr<ChildProcess> child, StreamLimits limits,
                                 QPointer<ChildProcess> *started)
{
    auto *session =
        new Session(QStringLiteral("session-%1").arg(++m_nextSession),
                    SessionOwner{QStringLiteral("alice"), QStringLiteral("grant-1")}, limits, m_scope.get());
    connect(session, &Session::finished, m_scope.get(), [this](const QString &id) { m_finished.insert(id); });
    m_sessions.append(session);
    if (!child)
        child = testServer();
    if (started)
        *started = child.get();
    session->start(std::move(child));
    return session;
}

Session *tst_Session::readySession(StreamLimits limits)
{
    Session *session = newSession({}, limits);
    return initializeSession(*session, Latest, m_scope.get()) ? session : nullptr;
}

QJsonObject tst_Session::serverState(Session &session, int requestId)
{
    TestSink *state = newSink();
    if (!post(session, toolCall(requestId, QStringLiteral("state")), state).ok() ||
        !QTest::qWaitFor([state] { return state->complete; }, 10000))
        return {};
    return parseObject(toolText(parseObject(state->json)).toUtf8());
}

void tst_Session::initialize_data()
{
    QTest::addColumn<QString>("requested");
    QTest::addColumn<QString>("negotiated");

    QTest::newRow("2025-11-25") << Latest << Latest;
    QTest::newRow("2025-06-18") << QStringLiteral("2025-06-18") << QStringLiteral("2025-06-18");
    QTest::newRow("2025-03-26") << QStringLiteral("2025-03-26") << QStringLiteral("2025-03-26");
    QTest::newRow("unknown: the server's choice is recorded")
        << QStringLiteral("2099-01-01") << QStringLiteral("2025-06-18");
}

void tst_Session::initialize()
{
    QFETCH(QString, requested);
    QFETCH(QString, negotiated);

    Session *session = newSession();
    QSignalSpy ready(session, &Session::ready);
    QCOMPARE(session->state(), SessionState::Starting);

    TestSink *sink = newSink();
    const PostResult posted =
        post(*session, request(1, QStringLiteral("initialize"), initializeParams(requested)), sink);
    QVERIFY(posted.ok());
    QVERIFY(posted.value()); // the session took the sink
    QCOMPARE(ready.count(), 0);

    QTRY_VERIFY(sink->complete);
    QCOMPARE(sink->jsonCount, 1);
    QCOMPARE(sink->answer, AnswerKind::Answered);
    QCOMPARE(sink->beginCount, 0);
    QVERIFY(sink->events.isEmpty());
    const QJsonObject reply = parseObject(sink->json);
    QCOMPARE(reply.value(QLatin1String("id")).toInt(), 1);
    const QJsonObject result = reply.value(QLatin1String("result")).toObject();
    QCOMPARE(result.value(QLatin1String("protocolVersion")).toString(), negotiated);

    QCOMPARE(ready.count(), 1);
    QCOMPARE(ready.first().first().toString(), session->id());
    QCOMPARE(session->state(), SessionState::Ready);
    QCOMPARE(session->protocolVersion(), negotiated);
    QCOMPARE(session->clientName(), QStringLiteral("tst-client"));
    QVERIFY(session->backendPid() > 0);
    QCOMPARE(session->pendingRequests(), 0);
    QCOMPARE(sink->misuse, 0);
}

void tst_Session::plainJsonWhenOnlyAResponse()
{
    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    TestSink *sink = newSink();
    const PostResult posted =
        post(*session,
             toolCall(2, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("hello")}}), sink);
    QVERIFY(posted.ok());
    QVERIFY(posted.value());
    QCOMPARE(session->pendingRequests(), 1);

    QTRY_VERIFY(sink->complete);
    QCOMPARE(sink->jsonCount, 1);
    QCOMPARE(sink->answer, AnswerKind::Answered);
    QCOMPARE(sink->beginCount, 0); // never upgraded: nothing but the response came
    QVERIFY(sink->events.isEmpty());
    QCOMPARE(toolText(parseObject(sink->json)), QStringLiteral("hello"));
    QCOMPARE(session->pendingRequests(), 0);
    QCOMPARE(sink->misuse, 0);

    // Notifications and responses alone take no stream (202 at the edge).
    const PostResult notified =
        post(*session, notification(QStringLiteral("notifications/roots/list_changed")), nullptr);
    QVERIFY(notified.ok());
    QVERIFY(!notified.value());
}

void tst_Session::batchAnsweredAsOneJsonArray()
{
    Session *session = newSession();
    QVERIFY(initializeSession(*session, QStringLiteral("2025-03-26"), m_scope.get()));

    TestSink *sink = newSink();
    const QJsonArray batch{
        toolCall(QStringLiteral("a"), QStringLiteral("slow"),
                 {{QStringLiteral("ms"), 50}, {QStringLiteral("text"), QStringLiteral("first")}}),
        toolCall(QStringLiteral("b"), QStringLiteral("echo"),
                 {{QStringLiteral("text"), QStringLiteral("second")}}),
        notification(QStringLiteral("notifications/roots/list_changed")),
    };
    const PostResult posted = postBatch(*session, batch, sink);
    QVERIFY(posted.ok());
    QVERIFY(posted.value());

    QTRY_VERIFY(sink->complete);
    QCOMPARE(sink->jsonCount, 1);
    QCOMPARE(sink->answer, AnswerKind::Answered);
    const QJsonArray replies = QJsonDocument::fromJson(sink->json).array();
    QCOMPARE(replies.size(), 2);
    QHash<QString, QString> byId;
    for (const QJsonValue &reply : replies)
        byId.insert(reply.toObject().value(QLatin1String("id")).toString(), toolText(reply.toObject()));
    QCOMPARE(byId.value(QStringLiteral("a")), QStringLiteral("first"));
    QCOMPARE(byId.value(QStringLiteral("b")), QStringLiteral("second"));
}

void tst_Session::clientGoneBeforeTheAnswer()
{
    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    // One client drops its connection, the other's sink is deleted by the transport.
    auto *dropped = newSink();
    auto *deleted = newSink();
    QVERIFY(post(*session, toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 50}}), dropped).ok());
    QVERIFY(post(*session, toolCall(2, QStringLiteral("slow"), {{QStringLiteral("ms"), 50}}), deleted).ok());
    QVERIFY(session->isActive());
    dropped->disconnectClient();
    delete deleted;
    QVERIFY(!session->isActive());

    QTRY_COMPARE(session->pendingRequests(), 0);
    QCOMPARE(dropped->misuse, 0); // nothing was written to a response whose client had gone
    QCOMPARE(dropped->jsonCount, 0);

    // The session carries on.
    TestSink *next = newSink();
    QVERIFY(post(*session, request(3, QStringLiteral("ping")), next).ok());
    QTRY_VERIFY(next->complete);
    QCOMPARE(next->answer, AnswerKind::Answered);
}

void tst_Session::notificationsUpgradeToSse_data()
{
    QTest::addColumn<QString>("protocolVersion");
    QTest::addColumn<bool>("priming");

    QTest::newRow("2025-11-25 primes the stream") << Latest << true;
    QTest::newRow("2025-06-18 does not prime") << QStringLiteral("2025-06-18") << false;
    QTest::newRow("2025-03-26 does not prime") << QStringLiteral("2025-03-26") << false;
}

void tst_Session::notificationsUpgradeToSse()
{
    QFETCH(QString, protocolVersion);
    QFETCH(bool, priming);

    Session *session = newSession();
    QVERIFY(initializeSession(*session, protocolVersion, m_scope.get()));

    TestSink *sink = newSink();
    QVERIFY(post(*session,
                 toolCall(7, QStringLiteral("notify"), {{QStringLiteral("count"), 3}}, QStringLiteral("p-7")),
                 sink)
                .ok());
    QTRY_COMPARE(sink->endCount, 1);
    QCOMPARE(sink->jsonCount, 0);
    QCOMPARE(sink->beginCount, 1);
    QCOMPARE(sink->misuse, 0);

    QList<TestSink::Event> events = sink->events;
    if (priming) {
        QVERIFY(!events.isEmpty());
        const TestSink::Event first = events.takeFirst();
        QVERIFY(first.data.isEmpty());
        QVERIFY(!first.id.isEmpty());
        QCOMPARE(first.retryMs, StreamLimits{}.retryMs);
    }
    QCOMPARE(events.size(), sink->dataEvents().size()); // no other empty event
    QCOMPARE(events.size(), 5);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(method(events.at(i)), QStringLiteral("notifications/progress"));
        QCOMPARE(progressParams(events.at(i)).value(QLatin1String("progressToken")).toString(),
                 QStringLiteral("p-7"));
        QCOMPARE(progressParams(events.at(i)).value(QLatin1String("progress")).toInt(), i + 1);
    }
    QCOMPARE(method(events.at(3)), QStringLiteral("notifications/message"));
    const QJsonObject reply = parseObject(events.at(4).data);
    QCOMPARE(reply.value(QLatin1String("id")).toInt(), 7);
    QCOMPARE(toolText(reply), QStringLiteral("sent 3 notifications"));

    QSet<QByteArray> ids;
    for (const TestSink::Event &event : std::as_const(sink->events)) {
        QVERIFY(!event.id.isEmpty());
        ids.insert(event.id);
    }
    QCOMPARE(ids.size(), sink->events.size());
    QCOMPARE(session->pendingRequests(), 0);
}

void tst_Session::progressRoutedByToken()
{
    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    // Both pending at once; without the token everything would go to the newer one (b).
    TestSink *a = newSink();
    TestSink *b = newSink();
    const QJsonObject slowly{{QStringLiteral("count"), 3}, {QStringLiteral("intervalMs"), 30}};
    QVERIFY(post(*session, toolCall(1, QStringLiteral("notify"), slowly, 70), a).ok());
    QVERIFY(post(*session, toolCall(2, QStringLiteral("notify"), slowly, QStringLiteral("b-token")), b).ok());
    QCOMPARE(session->pendingRequests(), 2);

    QTRY_COMPARE(a->endCount, 1);
    QTRY_COMPARE(b->endCount, 1);

    const QList<TestSink::Event> progressA = withMethod(a->events, QStringLiteral("notifications/progress"));
    const QList<TestSink::Event> progressB = withMethod(b->events, QStringLiteral("notifications/progress"));
    QCOMPARE(progressA.size(), 3);
    QCOMPARE(progressB.size(), 3);
    for (const TestSink::Event &event : progressA)
        QCOMPARE(progressParams(event).value(QLatin1String("progressToken")).toInt(), 70);
    for (const TestSink::Event &event : progressB)
        QCOMPARE(progressParams(event).value(QLatin1String("progressToken")).toString(),
                 QStringLiteral("b-token"));
    QCOMPARE(eventId(a->dataEvents().constLast()).toInt(), 1);
    QCOMPARE(eventId(b->dataEvents().constLast()).toInt(), 2);
}

void tst_Session::serverRequestRoundTrip()
{
    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    TestSink *get = newSink();
    QVERIFY(session->openStream(get, {}).ok());

    TestSink *sink = newSink();
    QVERIFY(
        post(*session,
             toolCall(3, QStringLiteral("sample"), {{QStringLiteral("prompt"), QStringLiteral("say hi")}}),
             sink)
            .ok());
    QTRY_COMPARE(withMethod(sink->events, QStringLiteral("sampling/createMessage")).size(), 1);
    const QJsonObject asked =
        parseObject(withMethod(sink->events, QStringLiteral("sampling/createMessage")).first().data);
    const QJsonValue askedId = asked.value(QLatin1String("id"));
    QVERIFY(askedId.isString());
    QCOMPARE(asked.value(QLatin1String("params"))
                 .toObject()
                 .value(QLatin1String("messages"))
                 .toArray()
                 .at(0)
                 .toObject()
                 .value(QLatin1String("content"))
                 .toObject()
                 .value(QLatin1String("text"))
                 .toString(),
             QStringLiteral("say hi"));
    QVERIFY(sink->isOpen()); // the call waits for the client's answer

    const QJsonObject sampled{
        {QStringLiteral("role"), QStringLiteral("assistant")},
        {QStringLiteral("content"), QJsonObject{{QStringLiteral("type"), QStringLiteral("text")},
                                                {QStringLiteral("text"), QStringLiteral("sampled words")}}},
        {QStringLiteral("model"), QStringLiteral("tst-model")}};
    const PostResult answered = post(*session, response(askedId, sampled), nullptr);
    QVERIFY(answered.ok());
    QVERIFY(!answered.value()); // a response takes no stream (202)

    QTRY_COMPARE(sink->endCount, 1);
    const QJsonObject reply = parseObject(sink->dataEvents().constLast().data);
    QCOMPARE(reply.value(QLatin1String("id")).toInt(), 3);
    QVERIFY(!reply.value(QLatin1String("result")).toObject().contains(QLatin1String("isError")));
    QCOMPARE(toolText(reply), QStringLiteral("sampled words"));
    QVERIFY(get->dataEvents().isEmpty()); // nothing of it went to the GET stream
    QVERIFY(get->isOpen());
}

// A user child (issue 13, 2026-07-28 mrtr): the server's request goes on the
// stream of the call that asks; its client's stream closes (input_required),
// and a new one resumes the call after the asking event.
void tst_Session::userChildResumesACallAfterInput()
{
    auto *session =
        new Session(QStringLiteral("user-child"),
                    SessionOwner{QStringLiteral("alice"), QStringLiteral("grant-1")}, {}, m_scope.get());
    connect(session, &Session::finished, m_scope.get(), [this](const QString &id) { m_finished.insert(id); });
    m_sessions.append(session);
    session->setKind(SessionKind::UserChild);
    session->start(testServer());
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    TestSink *first = newSink();
    QVERIFY(post(*session, toolCall(3, QStringLiteral("sample")), first).ok());
    QTRY_COMPARE(withMethod(first->events, QStringLiteral("sampling/createMessage")).size(), 1);
    const TestSink::Event asked = withMethod(first->events, QStringLiteral("sampling/createMessage")).first();
    first->disconnectClient(); // answered input_required
    QCOMPARE(session->pendingRequests(), 1);

    QVERIFY(!session->openStream(newSink(), "99-0").ok()); // no such stream: nothing to wait for
    TestSink *resumed = newSink();
    QVERIFY(session->openStream(resumed, asked.id).ok());
    const QJsonObject sampled{
        {QStringLiteral("role"), QStringLiteral("assistant")},
        {QStringLiteral("content"), QJsonObject{{QStringLiteral("type"), QStringLiteral("text")},
                                                {QStringLiteral("text"), QStringLiteral("sampled words")}}},
        {QStringLiteral("model"), QStringLiteral("tst-model")}};
    QVERIFY(
        post(*session, response(parseObject(asked.data).value(QLatin1String("id")), sampled), nullptr).ok());
    QTRY_COMPARE(resumed->endCount, 1);
    const QJsonObject reply = parseObject(resumed->dataEvents().constLast().data);
    QCOMPARE(reply.value(QLatin1String("id")).toInt(), 3);
    QCOMPARE(toolText(reply), QStringLiteral("sampled words"));
    QCOMPARE(withMethod(resumed->events, QStringLiteral("sampling/createMessage")).size(), 0); // not again
    QCOMPARE(session->pendingRequests(), 0);
}

void tst_Session::clientResponseToNoServerRequestIsDropped_data()
{
    QTest::addColumn<bool>("askedBefore"); // the id was asked, and answered already

    QTest::newRow("an id the server never asked") << false;
    QTest::newRow("a second answer to an answered request") << true;
}

void tst_Session::clientResponseToNoServerRequestIsDropped()
{
    QFETCH(bool, askedBefore);

    // Issue 11, 5b: the broker used to hand such a response to the child.
    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    const QJsonObject sampled{
        {QStringLiteral("role"), QStringLiteral("assistant")},
        {QStringLiteral("content"), QJsonObject{{QStringLiteral("type"), QStringLiteral("text")},
                                                {QStringLiteral("text"), QStringLiteral("words")}}},
        {QStringLiteral("model"), QStringLiteral("tst-model")}};
    QJsonValue strayId = QStringLiteral("srv-999");
    if (askedBefore) {
        TestSink *call = newSink();
        QVERIFY(post(*session, toolCall(1, QStringLiteral("sample")), call).ok());
        QTRY_COMPARE(withMethod(call->events, QStringLiteral("sampling/createMessage")).size(), 1);
        strayId = eventId(withMethod(call->events, QStringLiteral("sampling/createMessage")).first());
        QVERIFY(post(*session, response(strayId, sampled), nullptr).ok());
        QTRY_COMPARE(call->endCount, 1);
    }

    const PostResult stray = post(*session, response(strayId, sampled), nullptr);
    QVERIFY(stray.ok());
    QVERIFY(!stray.value()); // still 202 at the edge

    // stdin is ordered: had the stray response gone out, the server would have seen it first.
    const QJsonObject seen = serverState(*session, 2);
    QVERIFY(seen.contains(QLatin1String("strayResponses")));
    QCOMPARE(seen.value(QLatin1String("strayResponses")).toArray(), QJsonArray{});
}

void tst_Session::subscriptionsBeyondTheCapAreRefused()
{
    StreamLimits limits;
    limits.maxSubscriptions = 2;
    Session *session = readySession(limits);
    QVERIFY(session);
    const auto subscribe = [](int id, const QString &uri,
                              const QString &method = QStringLiteral("resources/subscribe")) {
        return request(id, method, {{QStringLiteral("uri"), uri}});
    };

    TestSink *sink = newSink();
    const QJsonArray batch{subscribe(1, QStringLiteral("repo://a")), subscribe(2, QStringLiteral("repo://b")),
                           subscribe(3, QStringLiteral("repo://c")),
                           subscribe(4, QStringLiteral("repo://a")), // held already: no new entry
                           subscribe(8, QStringLiteral("repo://") + QString(8193, QLatin1Char('x')))};
    QVERIFY(postBatch(*session, batch, sink).ok());
    QTRY_VERIFY(sink->complete);
    QCOMPARE(sink->answer, AnswerKind::Answered);
    QHash<int, QJsonObject> byId;
    for (const QJsonValue &reply : QJsonDocument::fromJson(sink->json).array())
        byId.insert(reply.toObject().value(QLatin1String("id")).toInt(), reply.toObject());
    QCOMPARE(byId.size(), 5);
    QVERIFY(byId.value(1).contains(QLatin1String("result")));
    QVERIFY(byId.value(2).contains(QLatin1String("result")));
    QVERIFY(byId.value(4).contains(QLatin1String("result")));
    QCOMPARE(errorCode(byId.value(3)), JsonRpcError::LimitReached);
    QCOMPARE(
        byId.value(3).value(QLatin1String("error")).toObject().value(QLatin1String("message")).toString(),
        QStringLiteral("this session holds 2 resource subscriptions; at most 2 (unsubscribe first)"));
    QCOMPARE(
        byId.value(8).value(QLatin1String("error")).toObject().value(QLatin1String("message")).toString(),
        QStringLiteral("the resource URI is 8200 characters long; at most 8192"));
    QCOMPARE(session->replayLog().subscriptions(),
             (QStringList{QStringLiteral("repo://a"), QStringLiteral("repo://b")}));

    // An unsubscribe makes room again.
    TestSink *again = newSink();
    QVERIFY(postBatch(
                *session,
                QJsonArray{subscribe(5, QStringLiteral("repo://a"), QStringLiteral("resources/unsubscribe")),
                           subscribe(6, QStringLiteral("repo://c"))},
                again)
                .ok());
    QTRY_VERIFY(again->complete);
    QVERIFY(!again->json.contains("\"error\""));

    // The refused subscription never reached the server.
    const QJsonObject seen = serverState(*session, 7);
    QCOMPARE(seen.value(QLatin1String("subscriptions")).toArray(),
             (QJsonArray{QStringLiteral("repo://b"), QStringLiteral("repo://c")}));
    QCOMPARE(session->replayLog().subscriptions(),
             (QStringList{QStringLiteral("repo://b"), QStringLiteral("repo://c")}));
}

void tst_Session::pendingRequestsBeyondTheCapAreRefused()
{
    StreamLimits limits;
    limits.maxPendingRequests = 2;
    Session *session = readySession(limits);
    QVERIFY(session);

    TestSink *slow = newSink();
    QVERIFY(post(*session, toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 60000}}), slow).ok());
    TestSink *batch = newSink();
    QVERIFY(postBatch(*session,
                      QJsonArray{toolCall(2, QStringLiteral("slow"), {{QStringLiteral("ms"), 60000}}),
                                 toolCall(3, QStringLiteral("echo"),
                                          {{QStringLiteral("text"), QStringLiteral("x")}})},
                      batch)
                .ok());
    QCOMPARE(session->pendingRequests(), 2); // 3 was answered at once
    TestSink *third = newSink();
    QVERIFY(post(*session,
                 toolCall(4, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("y")}}), third)
                .ok());
    QVERIFY(third->complete); // without a round trip to the server
    QCOMPARE(third->answer, AnswerKind::Answered);
    const QJsonObject refused = parseObject(third->json);
    QCOMPARE(errorCode(refused), JsonRpcError::LimitReached);
    QCOMPARE(refused.value(QLatin1String("error")).toObject().value(QLatin1String("message")).toString(),
             QStringLiteral("this session has 2 requests pending; at most 2"));
    QCOMPARE(session->pendingRequests(), 2);
}

void tst_Session::serverRequestsBeyondTheCapAreRefused()
{
    StreamLimits limits;
    limits.maxServerRequests = 1;
    Session *session = readySession(limits);
    QVERIFY(session);

    TestSink *first = newSink();
    QVERIFY(post(*session, toolCall(1, QStringLiteral("sample")), first).ok());
    QTRY_COMPARE(withMethod(first->events, QStringLiteral("sampling/createMessage")).size(), 1);

    // The client leaves the first one unanswered; the second the broker refuses for it.
    TestSink *second = newSink();
    QVERIFY(post(*session, toolCall(2, QStringLiteral("sample")), second).ok());
    QTRY_VERIFY(second->complete);
    const QJsonObject reply = parseObject(second->json);
    QVERIFY(reply.value(QLatin1String("result")).toObject().value(QLatin1String("isError")).toBool());
    QCOMPARE(
        toolText(reply),
        QStringLiteral("sampling failed: the client has 1 requests of this server unanswered; at most 1"));
    QVERIFY(withMethod(second->events, QStringLiteral("sampling/createMessage")).isEmpty());
}

void tst_Session::standaloneStreamBuffersUntilOpened_data()
{
    QTest::addColumn<QString>("protocolVersion");
    QTest::addColumn<bool>("priming");

    QTest::newRow("2025-11-25 primes the stream") << Latest << true;
    QTest::newRow("2025-03-26 does not prime") << QStringLiteral("2025-03-26") << false;
}

void tst_Session::standaloneStreamBuffersUntilOpened()
{
    QFETCH(QString, protocolVersion);
    QFETCH(bool, priming);

    QPointer<ChildProcess> child;
    Session *session = newSession({}, {}, &child);
    QVERIFY(initializeSession(*session, protocolVersion, m_scope.get()));
    QVERIFY(child);
    QSignalSpy lines(child.data(), &Backend::lineReceived);

    // What the server says on its own (here: for a request the session never
    // saw) belongs to no pending request.
    QVERIFY(child->write(encode(toolCall(QStringLiteral("side-1"), QStringLiteral("notify"),
                                         {{QStringLiteral("count"), 2}}, QStringLiteral("side")))));
    QTRY_COMPARE(lines.count(), 4); // 2 progress, 1 message, the (unclaimed) response
    QCOMPARE(session->pendingRequests(), 0);

    TestSink *get = newSink();
    QVERIFY(session->openStream(get, {}).ok());
    QCOMPARE(get->beginCount, 1);
    QList<TestSink::Event> events = get->events;
    if (priming) {
        QVERIFY(!events.isEmpty());
        const TestSink::Event first = events.takeFirst();
        QVERIFY(first.data.isEmpty());
        QCOMPARE(first.retryMs, StreamLimits{}.retryMs);
    }
    QCOMPARE(events.size(), get->dataEvents().size());
    QCOMPARE(events.size(), 3);
    QCOMPARE(method(events.at(0)), QStringLiteral("notifications/progress"));
    QCOMPARE(method(events.at(1)), QStringLiteral("notifications/progress"));
    QCOMPARE(method(events.at(2)), QStringLiteral("notifications/message"));
    QVERIFY(get->isOpen()); // the standalone stream stays open
    QCOMPARE(get->endCount, 0);

    // While it is open, delivery is immediate.
    QVERIFY(child->write(encode(toolCall(QStringLiteral("side-2"), QStringLiteral("notify"),
                                         {{QStringLiteral("count"), 1}}, QStringLiteral("side")))));
    QTRY_COMPARE(get->dataEvents().size(), 5);
    QCOMPARE(method(get->dataEvents().at(3)), QStringLiteral("notifications/progress"));
    QCOMPARE(get->misuse, 0);
}

void tst_Session::resumeWithLastEventId_data()
{
    QTest::addColumn<bool>("whilePending");
    QTest::newRow("after the call has finished") << false;
    QTest::newRow("while the call is still running") << true;
}

void tst_Session::resumeWithLastEventId()
{
    QFETCH(bool, whilePending);

    QPointer<ChildProcess> child;
    Session *session = newSession({}, {}, &child);
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    constexpr int Count = 5;
    TestSink *first = newSink();
    first->disconnectAfterData = 1; // the client drops right after the first progress event
    TestSink *second = newSink();
    QByteArray lastSeen;
    int pendingAtResume = -1;
    int linesWhileGone = 0;
    if (whilePending) {
        // Reconnect as soon as the session has buffered one line for the gone
        // client (it handles each line before this slot runs): the call is
        // still running then, whatever the machine's speed.
        connect(child.data(), &Backend::lineReceived, m_scope.get(), [&, session] {
            if (first->connected || pendingAtResume >= 0 || ++linesWhileGone < 2)
                return;
            pendingAtResume = session->pendingRequests();
            lastSeen = first->lastEventId();
            QVERIFY(session->openStream(second, lastSeen).ok());
        });
    }
    QVERIFY(
        post(*session,
             toolCall(5, QStringLiteral("notify"), {{QStringLiteral("count"), Count}}, QStringLiteral("r")),
             first)
            .ok());
    if (whilePending) {
        QTRY_VERIFY(pendingAtResume >= 0);
        QCOMPARE(pendingAtResume, 1);
    } else {
        QTRY_COMPARE(session->pendingRequests(), 0);
        lastSeen = first->lastEventId();
        QVERIFY(session->openStream(second, lastSeen).ok());
    }
    const QList<TestSink::Event> seen = first->dataEvents();
    QCOMPARE(seen.size(), 1);
    QVERIFY(!first->connected);
    QVERIFY(!lastSeen.isEmpty());

    QTRY_COMPARE(second->endCount, 1);
    QCOMPARE(second->events.size(), second->dataEvents().size()); // a resumed stream is not primed again

    const QList<TestSink::Event> all = seen + second->dataEvents();
    QCOMPARE(all.size(), Count + 2);
    for (int i = 0; i < Count; ++i)
        QCOMPARE(progressParams(all.at(i)).value(QLatin1String("progress")).toInt(), i + 1);
    QCOMPARE(method(all.at(Count)), QStringLiteral("notifications/message"));
    QCOMPARE(eventId(all.at(Count + 1)).toInt(), 5);
    QCOMPARE(toolText(parseObject(all.at(Count + 1).data)), QStringLiteral("sent 5 notifications"));
    for (const TestSink::Event &event : std::as_const(second->events)) {
        for (const TestSink::Event &old : seen)
            QVERIFY(event.id != old.id);
    }
    QCOMPARE(first->misuse, 0);
    QCOMPARE(second->misuse, 0);

    // The stream is gone once redelivered: the same id now names nothing.
    TestSink *third = newSink();
    QVERIFY(session->openStream(third, lastSeen).ok());
    QVERIFY(third->dataEvents().isEmpty());
    QVERIFY(third->isOpen()); // fell back to the standalone stream
}

void tst_Session::retainedStreamsAreBounded()
{
    StreamLimits limits;
    limits.retainedStreams = 1;
    Session *session = newSession({}, limits);
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    // Two calls whose clients leave after the first event; only the newer is kept.
    QList<QByteArray> lastIds;
    for (int id = 1; id <= 2; ++id) {
        TestSink *sink = newSink();
        sink->disconnectAfterData = 1;
        QVERIFY(
            post(*session, toolCall(id, QStringLiteral("notify"), {{QStringLiteral("count"), 2}}, id), sink)
                .ok());
        QTRY_COMPARE(session->pendingRequests(), 0);
        QCOMPARE(sink->dataEvents().size(), 1);
        lastIds.append(sink->lastEventId());
    }

    TestSink *evicted = newSink();
    QVERIFY(session->openStream(evicted, lastIds.at(0)).ok());
    QVERIFY(evicted->dataEvents().isEmpty()); // the standalone stream instead
    QVERIFY(evicted->isOpen());

    TestSink *kept = newSink();
    QVERIFY(session->openStream(kept, lastIds.at(1)).ok());
    QCOMPARE(kept->endCount, 1);
    QVERIFY(!kept->dataEvents().isEmpty());
    QCOMPARE(eventId(kept->dataEvents().constLast()).toInt(), 2);
}

void tst_Session::secondGetStreamConflicts()
{
    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    TestSink *first = newSink();
    QVERIFY(session->openStream(first, {}).ok());
    TestSink *second = newSink();
    const Result<void, SessionRefusal> refused = session->openStream(second, {});
    QVERIFY(!refused.ok());
    QCOMPARE(refused.error().kind, Refusal::StreamHasReader);
    QCOMPARE(second->beginCount, 0);
    QVERIFY(second->events.isEmpty());
    QVERIFY(first->isOpen());

    // Once the first reader has gone, the stream takes a new one.
    first->disconnectClient();
    TestSink *third = newSink();
    QVERIFY(session->openStream(third, {}).ok());
    QVERIFY(third->isOpen());
}

void tst_Session::duplicateRequestIdConflicts_data()
{
    QTest::addColumn<QByteArray>("first");
    QTest::addColumn<bool>("waitForFirst");
    QTest::addColumn<QByteArray>("second");
    QTest::addColumn<bool>("conflict");

    const QJsonObject slow{{QStringLiteral("ms"), 5000}};
    const QJsonObject echo{{QStringLiteral("text"), QStringLiteral("x")}};
    const auto one = [](const QJsonObject &object) { return encode(object); };
    const auto batch = [](const QJsonArray &array) {
        return QJsonDocument(array).toJson(QJsonDocument::Compact);
    };

    QTest::newRow("numeric id still pending") << one(toolCall(9, QStringLiteral("slow"), slow)) << false
                                              << one(toolCall(9, QStringLiteral("echo"), echo)) << true;
    QTest::newRow("string id still pending")
        << one(toolCall(QStringLiteral("x"), QStringLiteral("slow"), slow)) << false
        << one(toolCall(QStringLiteral("x"), QStringLiteral("echo"), echo)) << true;
    QTest::newRow("9 and \"9\" are different ids")
        << one(toolCall(9, QStringLiteral("slow"), slow)) << false
        << one(toolCall(QStringLiteral("9"), QStringLiteral("echo"), echo)) << false;
    QTest::newRow("id reusable once answered") << one(toolCall(9, QStringLiteral("echo"), echo)) << true
                                               << one(toolCall(9, QStringLiteral("echo"), echo)) << false;
    QTest::newRow("same id twice in one batch")
        << QByteArray() << false
        << batch({toolCall(4, QStringLiteral("echo"), echo), toolCall(4, QStringLiteral("echo"), echo)})
        << true;
}

void tst_Session::duplicateRequestIdConflicts()
{
    QFETCH(QByteArray, first);
    QFETCH(bool, waitForFirst);
    QFETCH(QByteArray, second);
    QFETCH(bool, conflict);

    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    const auto send = [session](const QByteArray &body, StreamSink *sink) {
        return postBody(*session, body, sink);
    };

    TestSink *firstSink = newSink();
    int pendingBefore = 0;
    if (!first.isEmpty()) {
        QVERIFY(send(first, firstSink).ok());
        if (waitForFirst)
            QTRY_VERIFY(firstSink->complete);
        pendingBefore = session->pendingRequests();
    }

    TestSink *secondSink = newSink();
    const PostResult posted = send(second, secondSink);
    QCOMPARE(!posted.ok(), conflict);
    if (conflict) {
        QCOMPARE(posted.error().kind, Refusal::DuplicateRequestId);
        QCOMPARE(session->pendingRequests(), pendingBefore); // nothing of it went to the server
        QCOMPARE(secondSink->jsonCount, 0);
        QVERIFY(secondSink->events.isEmpty());
        if (!first.isEmpty() && !waitForFirst)
            QVERIFY(firstSink->isOpen()); // the first request is unaffected
    } else {
        QTRY_VERIFY(secondSink->complete);
        QCOMPARE(toolText(parseObject(secondSink->json)), QStringLiteral("x"));
    }
}

void tst_Session::childCrashFailsPending()
{
    QPointer<ChildProcess> child;
    Session *session = newSession({}, {}, &child);
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    const qint64 pid = session->backendPid();
    QStringList order;
    connect(session, &Session::ended, m_scope.get(), [&order] { order << QStringLiteral("ended"); });
    connect(session, &Session::finished, m_scope.get(), [&order] { order << QStringLiteral("finished"); });
    QSignalSpy ended(session, &Session::ended);

    TestSink *get = newSink();
    QVERIFY(session->openStream(get, {}).ok());
    TestSink *slow = newSink();
    QVERIFY(post(*session, toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 10000}}), slow).ok());
    TestSink *crash = newSink();
    QVERIFY(post(*session, toolCall(2, QStringLiteral("crash"), {{QStringLiteral("code"), 3}}), crash).ok());

    QTRY_COMPARE(order, (QStringList{QStringLiteral("ended"), QStringLiteral("finished")}));
    QCOMPARE(ended.count(), 1);
    QVERIFY2(ended.first().at(1).toString().contains(QLatin1String("exited with status 3")),
             qPrintable(ended.first().at(1).toString()));

    int id = 1;
    for (TestSink *sink : {slow, crash}) {
        QCOMPARE(sink->jsonCount, 1);
        QCOMPARE(sink->answer,
                 AnswerKind::Answered); // a JSON-RPC error, not an HTTP one: the session was ready
        const QJsonObject reply = parseObject(sink->json);
        QCOMPARE(reply.value(QLatin1String("id")).toInt(), id++);
        QCOMPARE(errorCode(reply), JsonRpcError::BackendExited);
    }
    QCOMPARE(get->endCount, 1);
    QCOMPARE(session->pendingRequests(), 0);
    QCOMPARE(session->state(), SessionState::Stopping);
    QVERIFY(processGone(pid));

    const PostResult late = post(*session, request(3, QStringLiteral("ping")), newSink());
    QVERIFY(!late.ok());
    QCOMPARE(late.error().kind, Refusal::Ending);
    const Result<void, SessionRefusal> lateStream = session->openStream(newSink(), {});
    QVERIFY(!lateStream.ok());
    QCOMPARE(lateStream.error().kind, Refusal::Ending);

    session->stop(QStringLiteral("again"));
    QCOMPARE(order.size(), 2); // ended and finished came once each
    QCOMPARE(slow->misuse + crash->misuse + get->misuse, 0);
}

void tst_Session::failedInitializeIs502_data()
{
    QTest::addColumn<QString>("program");
    QTest::addColumn<QStringList>("arguments");

    QTest::newRow("child exits at start")
        << testServerPath() << QStringList{QStringLiteral("--exit-at-start"), QStringLiteral("1")};
    QTest::newRow("program missing") << QStringLiteral("/nonexistent/fmb-no-such-server") << QStringList{};
}

void tst_Session::failedInitializeIs502()
{
    QFETCH(QString, program);
    QFETCH(QStringList, arguments);

    Session *session = newSession(testServer(arguments, program));
    QSignalSpy ready(session, &Session::ready);
    QSignalSpy ended(session, &Session::ended);
    QSignalSpy finished(session, &Session::finished);

    TestSink *sink = newSink();
    QVERIFY(post(*session, request(1, QStringLiteral("initialize"), initializeParams(Latest)), sink).ok());
    QTRY_VERIFY(sink->complete);
    QCOMPARE(sink->jsonCount, 1);
    QCOMPARE(sink->answer, AnswerKind::InitializeFailed);
    const QJsonObject reply = parseObject(sink->json);
    QCOMPARE(reply.value(QLatin1String("id")).toInt(), 1);
    const int code = errorCode(reply);
    QVERIFY2(code == JsonRpcError::BackendExited || code == JsonRpcError::BackendUnavailable,
             qPrintable(QString::number(code)));

    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(ended.count(), 1);
    QCOMPARE(ready.count(), 0);
}

void tst_Session::respawnReplaysAndSwaps()
{
    QPointer<ChildProcess> oldChild;
    Session *session = newSession({}, {}, &oldChild);
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    for (const QJsonObject &message : {request(2, QStringLiteral("logging/setLevel"),
                                               {{QStringLiteral("level"), QStringLiteral("debug")}}),
                                       request(3, QStringLiteral("resources/subscribe"),
                                               {{QStringLiteral("uri"), QStringLiteral("file:///a")}}),
                                       request(4, QStringLiteral("resources/subscribe"),
                                               {{QStringLiteral("uri"), QStringLiteral("file:///b")}})}) {
        TestSink *sink = newSink();
        QVERIFY(post(*session, message, sink).ok());
        QTRY_VERIFY(sink->complete);
        QCOMPARE(sink->answer, AnswerKind::Answered);
    }
    TestSink *get = newSink();
    QVERIFY(session->openStream(get, {}).ok());

    const qint64 oldPid = session->backendPid();
    QVERIFY(oldPid > 0);
    QSignalSpy oldExited(oldChild.data(), &Backend::exited);
    QSignalSpy ended(session, &Session::ended);
    QSignalSpy swapped(session, &Session::backendSwapped);
    QSignalSpy failed(session, &Session::respawnFailed);

    // A call in flight on the old child across the swap: it waits for the
    // client's sampling answer, so it stays in flight until the test answers.
    TestSink *inFlight = newSink();
    QVERIFY(post(*session, toolCall(10, QStringLiteral("sample")), inFlight).ok());
    QTRY_COMPARE(withMethod(inFlight->events, QStringLiteral("sampling/createMessage")).size(), 1);
    const QJsonValue samplingId =
        eventId(withMethod(inFlight->events, QStringLiteral("sampling/createMessage")).first());
    bool answeredWhenOldExited = false;
    connect(oldChild.data(), &Backend::exited, m_scope.get(),
            [&] { answeredWhenOldExited = inFlight->complete; });

    // The very first request after the swap, posted from the swap itself.
    TestSink *state = newSink();
    int pendingAtSwap = -1;
    connect(
        session, &Session::backendSwapped, m_scope.get(),
        [&] {
            pendingAtSwap = session->pendingRequests();
            QVERIFY(post(*session, toolCall(11, QStringLiteral("state")), state).ok());
        },
        Qt::SingleShotConnection);

    std::unique_ptr<ChildProcess> next = testServer();
    QPointer<ChildProcess> newChild = next.get();
    session->respawn(std::move(next));
    QCOMPARE(session->state(), SessionState::Respawning);
    QTRY_COMPARE(swapped.count(), 1);
    QCOMPARE(failed.count(), 0);
    QCOMPARE(session->state(), SessionState::Ready);
    QCOMPARE(pendingAtSwap, 1); // the sampling call is still running on the old child
    const qint64 newPid = session->backendPid();
    QVERIFY(newPid > 0);
    QVERIFY(newPid != oldPid);
    QCOMPARE(newPid, newChild->processId());

    QTRY_VERIFY(state->complete);
    QCOMPARE(state->answer, AnswerKind::Answered);
    const QJsonObject seen = parseObject(toolText(parseObject(state->json)).toUtf8());
    QCOMPARE(seen.value(QLatin1String("pid")).toInteger(), newPid);
    QCOMPARE(seen.value(QLatin1String("initializeParams")).toObject(), initializeParams(Latest));
    QCOMPARE(seen.value(QLatin1String("initializedCount")).toInt(), 1);
    QCOMPARE(seen.value(QLatin1String("logLevel")).toString(), QStringLiteral("debug"));
    QCOMPARE(seen.value(QLatin1String("subscriptions")).toArray(),
             (QJsonArray{QStringLiteral("file:///a"), QStringLiteral("file:///b")}));

    // The client's sampling answer goes back to the old child that asked;
    // the old child completes its call, then stops; the session lives on.
    QVERIFY(oldChild && oldChild->isRunning());
    const QJsonObject sampled{
        {QStringLiteral("role"), QStringLiteral("assistant")},
        {QStringLiteral("content"), QJsonObject{{QStringLiteral("type"), QStringLiteral("text")},
                                                {QStringLiteral("text"), QStringLiteral("drained words")}}},
        {QStringLiteral("model"), QStringLiteral("tst-model")}};
    QVERIFY(post(*session, response(samplingId, sampled), nullptr).ok());
    QTRY_COMPARE(inFlight->endCount, 1);
    const QJsonObject reply = parseObject(inFlight->dataEvents().constLast().data);
    QCOMPARE(reply.value(QLatin1String("id")).toInt(), 10);
    QCOMPARE(toolText(reply), QStringLiteral("drained words"));
    QTRY_COMPARE(oldExited.count(), 1);
    QVERIFY(answeredWhenOldExited);
    QVERIFY(!oldExited.first().first().value<ExitInfo>().crashed); // it left when its stdin closed
    QVERIFY(processGone(oldPid));
    QCOMPARE(ended.count(), 0);
    QCOMPARE(session->backendPid(), newPid);

    TestSink *after = newSink();
    QVERIFY(
        post(*session,
             toolCall(12, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("still here")}}),
             after)
            .ok());
    QTRY_VERIFY(after->complete);
    QCOMPARE(toolText(parseObject(after->json)), QStringLiteral("still here"));

    // The client noticed nothing: the replayed requests' answers went nowhere.
    QVERIFY(get->isOpen());
    QVERIFY(get->dataEvents().isEmpty());
    QCOMPARE(state->beginCount + after->beginCount, 0);
    QCOMPARE(withMethod(inFlight->events, QStringLiteral("sampling/createMessage")).size(), 1);
}

void tst_Session::respawnFailureKeepsOldBackend_data()
{
    QTest::addColumn<bool>("initialized");
    QTest::addColumn<QString>("program");
    QTest::addColumn<QStringList>("arguments");

    QTest::newRow("new child exits at start")
        << true << testServerPath() << QStringList{QStringLiteral("--exit-at-start"), QStringLiteral("1")};
    QTest::newRow("new program missing")
        << true << QStringLiteral("/nonexistent/fmb-no-such-server") << QStringList{};
    QTest::newRow("session not initialized yet") << false << testServerPath() << QStringList{};
}

void tst_Session::respawnFailureKeepsOldBackend()
{
    QFETCH(bool, initialized);
    QFETCH(QString, program);
    QFETCH(QStringList, arguments);

    Session *session = newSession();
    if (initialized)
        QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    else
        QTRY_VERIFY(session->backendPid() > 0);
    const SessionState stateBefore = session->state();
    const qint64 oldPid = session->backendPid();
    QSignalSpy swapped(session, &Session::backendSwapped);
    QSignalSpy failed(session, &Session::respawnFailed);
    QSignalSpy ended(session, &Session::ended);

    if (initialized && lcSession().isWarningEnabled())
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("respawn failed: ")));
    session->respawn(testServer(arguments, program));
    QCOMPARE(failed.count(), 0); // reported from the event loop
    QTRY_COMPARE(failed.count(), 1);
    QCOMPARE(failed.first().at(0).toString(), session->id());
    QVERIFY(!failed.first().at(1).toString().isEmpty());
    QCOMPARE(swapped.count(), 0);
    QCOMPARE(ended.count(), 0);
    QCOMPARE(session->state(), stateBefore);
    QCOMPARE(session->backendPid(), oldPid);

    if (!initialized)
        QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    TestSink *state = newSink();
    QVERIFY(post(*session, toolCall(20, QStringLiteral("state")), state).ok());
    QTRY_VERIFY(state->complete);
    QCOMPARE(parseObject(toolText(parseObject(state->json)).toUtf8()).value(QLatin1String("pid")).toInteger(),
             oldPid);
    QCOMPARE(ended.count(), 0);
}

void tst_Session::respawnTimesOut()
{
    StreamLimits limits;
    limits.respawnTimeoutMs = 3000; // a sanitizer build of the child starts in ~0.5 s under load
    Session *session = newSession({}, limits);
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    const qint64 oldPid = session->backendPid();
    QSignalSpy swapped(session, &Session::backendSwapped);
    QSignalSpy failed(session, &Session::respawnFailed);
    if (lcSession().isWarningEnabled())
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("respawn failed: ")));

    // A new child that never answers initialize: the respawn gives up...
    session->respawn(testServer({QStringLiteral("--no-initialize-reply")}));
    QTRY_COMPARE(failed.count(), 1);
    QVERIFY(failed.first().at(1).toString().contains(QLatin1String("did not answer initialize")));
    QCOMPARE(session->state(), SessionState::Ready);
    QCOMPARE(session->backendPid(), oldPid);

    // ...so a later respawn is not refused as "already under way". On a
    // loaded machine a healthy child can miss the time limit too: that is the
    // same timeout again, never a refusal, so try again.
    for (int attempt = 0; attempt < 10 && swapped.isEmpty(); ++attempt) {
        const qsizetype failures = failed.count();
        session->respawn(testServer());
        QTRY_VERIFY(swapped.count() == 1 || failed.count() > failures);
        if (failed.count() > failures) {
            const QString why = failed.last().at(1).toString();
            QVERIFY2(why.contains(QLatin1String("did not answer initialize")), qPrintable(why));
        }
    }
    QCOMPARE(swapped.count(), 1);
    QVERIFY(session->backendPid() != oldPid);
}

void tst_Session::secondRespawnWhileUnderWayFails()
{
    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    QSignalSpy swapped(session, &Session::backendSwapped);
    QSignalSpy failed(session, &Session::respawnFailed);

    session->respawn(testServer());
    session->respawn(testServer());
    QTRY_COMPARE(failed.count(), 1);
    QVERIFY2(failed.first().at(1).toString().contains(QLatin1String("under way")),
             qPrintable(failed.first().at(1).toString()));
    QTRY_COMPARE(swapped.count(), 1);
    QCOMPARE(failed.count(), 1);
}

void tst_Session::drainingChildDeathFailsOnlyItsRequests()
{
    QPointer<ChildProcess> oldChild;
    Session *session = newSession({}, {}, &oldChild);
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    const qint64 oldPid = session->backendPid();
    TestSink *slow = newSink();
    QVERIFY(post(*session, toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 60000}}), slow).ok());
    QSignalSpy swapped(session, &Session::backendSwapped);
    QSignalSpy ended(session, &Session::ended);
    session->respawn(testServer());
    QTRY_COMPARE(swapped.count(), 1);
    QSignalSpy oldExited(oldChild.data(), &Backend::exited);

    // The swapped-out child dies with request 1 still in flight.
    QCOMPARE(::kill(pid_t(oldPid), SIGKILL), 0);
    QTRY_COMPARE(oldExited.count(), 1);
    QTRY_VERIFY(slow->complete);
    QCOMPARE(slow->answer, AnswerKind::Answered);
    QCOMPARE(errorCode(parseObject(slow->json)), JsonRpcError::BackendExited);

    // Not the session's current backend: the session carries on with the new one.
    QCOMPARE(ended.count(), 0);
    TestSink *echo = newSink();
    QVERIFY(post(*session,
                 toolCall(2, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("on")}}), echo)
                .ok());
    QTRY_VERIFY(echo->complete);
    QCOMPARE(toolText(parseObject(echo->json)), QStringLiteral("on"));
}

void tst_Session::cancelledRequestIsReleased_data()
{
    QTest::addColumn<QString>("shape");
    QTest::newRow("plain JSON answer pending") << QStringLiteral("json");
    QTest::newRow("upgraded to SSE") << QStringLiteral("sse");
    QTest::newRow("batch with an answered sibling") << QStringLiteral("batch");
}

void tst_Session::cancelledRequestIsReleased()
{
    QFETCH(QString, shape);

    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    TestSink *sink = newSink();
    if (shape == QLatin1String("json")) {
        QVERIFY(
            post(*session, toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 60000}}), sink).ok());
    } else if (shape == QLatin1String("sse")) {
        // The server asks the client something and waits: the answer is an SSE stream by now.
        QVERIFY(post(*session, toolCall(1, QStringLiteral("sample")), sink).ok());
        QTRY_COMPARE(sink->dataEvents().size(), 1);
    } else {
        const QJsonArray batch{
            toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 60000}}),
            toolCall(2, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("sibling")}}),
        };
        QVERIFY(postBatch(*session, batch, sink).ok());
    }
    QCOMPARE(session->pendingRequests(), shape == QLatin1String("batch") ? 2 : 1);

    // stdout is ordered: once a later request is answered, so is the batch sibling.
    TestSink *ping = newSink();
    QVERIFY(post(*session, request(3, QStringLiteral("ping")), ping).ok());
    QTRY_VERIFY(ping->complete);
    QCOMPARE(session->pendingRequests(), 1);

    QVERIFY(post(*session,
                 notification(
                     QStringLiteral("notifications/cancelled"),
                     {{QStringLiteral("requestId"), 1}, {QStringLiteral("reason"), QStringLiteral("user")}}),
                 nullptr)
                .ok());

    // MCP 2025-11-25, "Cancellation": the server does not answer a cancelled
    // request, so the session lets it go and completes its response.
    QCOMPARE(session->pendingRequests(), 0);
    QVERIFY(!sink->isOpen());
    QCOMPARE(sink->misuse, 0);
    if (shape == QLatin1String("batch")) {
        QCOMPARE(sink->jsonCount, 1);
        const QJsonArray replies = QJsonDocument::fromJson(sink->json).array();
        QCOMPARE(replies.size(), 1);
        QCOMPARE(toolText(replies.at(0).toObject()), QStringLiteral("sibling"));
    } else {
        QCOMPARE(sink->jsonCount, 0);
        QCOMPARE(sink->endCount, 1);
    }

    // The server did get the cancel, and the id is free again.
    TestSink *state = newSink();
    QVERIFY(post(*session, toolCall(1, QStringLiteral("state")), state).ok());
    QTRY_VERIFY(state->complete);
    const QJsonObject seen = parseObject(toolText(parseObject(state->json)).toUtf8());
    QCOMPARE(seen.value(QLatin1String("cancelled")).toArray(), QJsonArray{1});
}

void tst_Session::cancelOnDrainingBackend()
{
    QPointer<ChildProcess> oldChild;
    Session *session = newSession({}, {}, &oldChild);
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    TestSink *slow = newSink();
    QVERIFY(post(*session, toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 60000}}), slow).ok());

    QSignalSpy swapped(session, &Session::backendSwapped);
    session->respawn(testServer());
    QTRY_COMPARE(swapped.count(), 1);
    QCOMPARE(session->pendingRequests(), 1); // request 1 runs on the old, draining child

    QVERIFY(post(*session,
                 notification(
                     QStringLiteral("notifications/cancelled"),
                     {{QStringLiteral("requestId"), 1}, {QStringLiteral("reason"), QStringLiteral("user")}}),
                 nullptr)
                .ok());
    QCOMPARE(session->pendingRequests(), 0);
    TestSink *state = newSink();
    QVERIFY(post(*session, toolCall(2, QStringLiteral("state")), state).ok());
    QTRY_VERIFY(state->complete);
    const QJsonObject newChildSaw = parseObject(toolText(parseObject(state->json)).toUtf8());

    // The cancel belongs to the child that runs request 1; the new child never
    // saw that id, and the old one keeps working on a call the client gave up.
    QCOMPARE(newChildSaw.value(QLatin1String("cancelled")).toArray(), QJsonArray{});

    // Nothing is in flight on the old child any more, so it must stop (and be
    // deleted once it has exited). Otherwise nothing ever stops it: its late
    // answer finds no pending request.
    QTRY_VERIFY_WITH_TIMEOUT(oldChild.isNull(), 10000);
}

void tst_Session::stopIsIdempotent()
{
    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    const qint64 pid = session->backendPid();
    QSignalSpy ended(session, &Session::ended);
    QSignalSpy finished(session, &Session::finished);

    TestSink *get = newSink();
    QVERIFY(session->openStream(get, {}).ok());
    TestSink *slow = newSink();
    QVERIFY(post(*session, toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 60000}}), slow).ok());

    session->stop(QStringLiteral("first"));
    QCOMPARE(ended.count(), 1);
    QCOMPARE(ended.first().at(1).toString(), QStringLiteral("first"));
    QCOMPARE(session->state(), SessionState::Stopping);
    QCOMPARE(get->endCount, 1);
    QCOMPARE(slow->jsonCount, 1);
    QCOMPARE(slow->answer, AnswerKind::Answered);
    const QJsonObject reply = parseObject(slow->json);
    QCOMPARE(errorCode(reply), JsonRpcError::BackendExited);
    QVERIFY(reply.value(QLatin1String("error"))
                .toObject()
                .value(QLatin1String("message"))
                .toString()
                .contains(QLatin1String("first")));

    session->stop(QStringLiteral("second"));
    QCOMPARE(ended.count(), 1);
    QTRY_COMPARE(finished.count(), 1);
    QVERIFY(processGone(pid));
    session->stop(QStringLiteral("third"));
    QCOMPARE(ended.count(), 1);
    QCOMPARE(finished.count(), 1);

    QCOMPARE(post(*session, request(2, QStringLiteral("ping")), newSink()).error().kind, Refusal::Ending);
    QCOMPARE(session->openStream(newSink(), {}).error().kind, Refusal::Ending);
    QCOMPARE(get->misuse + slow->misuse, 0);
}

// A child that writes junk on stdout costs a bounded number of log lines
// (the rest are counted), and the session goes on answering.
void tst_Session::junkOnStdoutIsLoggedRateLimited()
{
    constexpr int JunkLines = 10000;
    JunkLogCounter counter;
    Session *session = newSession();
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));

    TestSink *junk = newSink();
    QVERIFY(
        post(*session, toolCall(2, QStringLiteral("garbage"), {{QStringLiteral("count"), JunkLines}}), junk)
            .ok());
    QTRY_VERIFY(junk->complete);
    QCOMPARE(toolText(parseObject(junk->json)), QStringLiteral("garbage sent"));

    TestSink *echo = newSink();
    QVERIFY(post(*session,
                 toolCall(3, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("fine")}}),
                 echo)
                .ok());
    QTRY_VERIFY(echo->complete);
    QCOMPARE(toolText(parseObject(echo->json)), QStringLiteral("fine"));

    // A burst of 10, then one a second with a count: a handful while the test runs.
    QVERIFY2(counter.s_lines <= 20, qPrintable(QString::number(counter.s_lines)));
    QVERIFY(counter.s_lines > 0);
    // Ending the session reports what was not logged yet: every line is accounted for.
    session->stop(QStringLiteral("test over"));
    QCOMPARE(counter.s_accounted, qint64(JunkLines));
}

// An idle session gives back the pending-request table once it empties:
// thousands of idle sessions would otherwise keep ~3.7 KiB each.
void tst_Session::answeredSessionHoldsNoRequestTable()
{
    Session *session = newSession();
    QCOMPARE(session->pendingCapacity(), 0);
    QVERIFY(initializeSession(*session, Latest, m_scope.get()));
    QCOMPARE(session->pendingCapacity(), 0);

    TestSink *sink = newSink();
    QVERIFY(post(*session, toolCall(2, QStringLiteral("slow"), {{QStringLiteral("ms"), 50}}), sink).ok());
    QCOMPARE(session->pendingRequests(), 1);
    QVERIFY(session->pendingCapacity() > 0);
    QTRY_VERIFY(sink->complete);
    QCOMPARE(session->pendingRequests(), 0);
    QCOMPARE(session->pendingCapacity(), 0);
}

QTEST_GUILESS_MAIN(tst_Session)
#include "tst_session.moc"

#include <algorithm>
#include <chrono>
#include <memory>

#include <QScopeGuard>
#include <QSignalSpy>
#include <QTest>

#include "HeapTrimPolicy.h"
#include "TestSink.h"
#include "session/SessionRegistry.h"

using namespace std::chrono_literals;
using namespace fmb;
using namespace fmb::test;

namespace {
QStringList s_trimLines;
QtMessageHandler s_previousHandler = nullptr;

void captureTrimLines(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (message.contains(QLatin1String("returned freed memory")))
        s_trimLines.append(message);
    s_previousHandler(type, context, message);
}
} // namespace

// The daemon's heap trimming, driven by a real registry whose sessions run
// real children (tests/fakes).
class tst_HeapTrimPolicy : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void cleanup();
    void trimmedAfterAWaveOfEnds();

private:
    std::unique_ptr<SessionRegistry> m_registry;
};

void tst_HeapTrimPolicy::cleanup()
{
    if (m_registry) {
        QSignalSpy allStopped(m_registry.get(), &SessionRegistry::allStopped);
        m_registry->shutdown();
        QTRY_VERIFY_WITH_TIMEOUT(allStopped.count() > 0, 10000);
    }
    m_registry.reset();
}

// After many sessions end, the freed heap goes back (malloc_trim) once, when
// the wave has settled; a few ends do not trigger it.
void tst_HeapTrimPolicy::trimmedAfterAWaveOfEnds()
{
    s_trimLines.clear();
    s_previousHandler = qInstallMessageHandler(captureTrimLines);
    auto restore = qScopeGuard([] { qInstallMessageHandler(s_previousHandler); });

    m_registry = std::make_unique<SessionRegistry>(
        RegistryLimits{},
        [](const SessionOwner &, const QString &) -> std::unique_ptr<Backend> { return testServer(); });
    SessionRegistry *registry = m_registry.get();
    HeapTrimPolicy policy(registry, HeapTrimPolicy::Limits{3, 50ms});
    QList<Session *> sessions;
    for (int i = 0; i < 5; ++i) {
        Result<Session *> session = registry->create(SessionOwner{QStringLiteral("alice"), QString()});
        QVERIFY(session.ok());
        sessions.append(session.value());
    }
    QTRY_VERIFY(
        std::all_of(sessions.cbegin(), sessions.cend(), [](Session *s) { return s->backendPid() > 0; }));

    // Two of five are below the wave size; with a third it is there. One
    // trim, counting all three, shows that the first two did not trim.
    QVERIFY(registry->evict(sessions.at(0)->id(), QStringLiteral("test")));
    QVERIFY(registry->evict(sessions.at(1)->id(), QStringLiteral("test")));
    QTRY_COMPARE(registry->stoppingCount(), 0);
    QVERIFY(registry->evict(sessions.at(2)->id(), QStringLiteral("test")));
    QTRY_COMPARE(s_trimLines.size(), 1);
    QVERIFY2(s_trimLines.first().contains(QLatin1String("after 3 sessions ended (2 live")),
             qPrintable(s_trimLines.first()));
}

QTEST_GUILESS_MAIN(tst_HeapTrimPolicy)
#include "tst_heaptrimpolicy.moc"

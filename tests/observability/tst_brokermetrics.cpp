#include <QTest>

#include <QRegularExpression>

#include "base/Metrics.h"
#include "observability/BrokerMetrics.h"

using namespace fmb;
using namespace std::chrono_literals;

class tst_BrokerMetrics : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void everyCounterIsShown();
    void histogramIsCumulative();
    void gaugesAndBuildInfo();
    void nodeInfo();
    void everyFamilyHasHelpAndType();

private:
    // The value of the one sample named exactly `series` (with its labels).
    static QByteArray sampleValue(const QByteArray &text, const QByteArray &series);
};

QByteArray tst_BrokerMetrics::sampleValue(const QByteArray &text, const QByteArray &series)
{
    QByteArray found;
    int matches = 0;
    for (const QByteArray &line : text.split('\n')) {
        if (line.startsWith(QByteArray(series + ' '))) {
            found = line.mid(series.size() + 1);
            ++matches;
        }
    }
    return matches == 1 ? found : QByteArray();
}

void tst_BrokerMetrics::everyCounterIsShown()
{
    // Each counter gets a value no other has; every one must appear exactly once.
    for (int i = 0; i < int(metrics::Counter::Count); ++i)
        metrics::add(metrics::Counter(i), 1'000'000'007ULL * quint64(i + 1));
    const QByteArray text = renderMetrics(MetricsGauges{}, QStringLiteral("1.2.3"));
    for (int i = 0; i < int(metrics::Counter::Count); ++i) {
        const QByteArray value = QByteArray::number(metrics::value(metrics::Counter(i)));
        QCOMPARE(text.count(QByteArray(' ' + value + '\n')), 1);
    }
    QCOMPARE(sampleValue(text, "forgejo_mcp_broker_sessions_ended_total{reason=\"idle\"}"),
             QByteArray::number(metrics::value(metrics::Counter::SessionsEndedIdle)));
    QCOMPARE(sampleValue(text, "forgejo_mcp_broker_refused_total{limit=\"sessions\"}"),
             QByteArray::number(metrics::value(metrics::Counter::RefusedSessions)));
    QCOMPARE(sampleValue(text, "forgejo_mcp_broker_sign_ins_total{outcome=\"denied\"}"),
             QByteArray::number(metrics::value(metrics::Counter::SignInsDenied)));
}

// Issue 14: which broker of a cluster a scrape came from.
void tst_BrokerMetrics::nodeInfo()
{
    const QByteArray text = renderMetrics(MetricsGauges{}, QStringLiteral("1"), QStringLiteral("web1-8080"));
    QCOMPARE(sampleValue(text, "forgejo_mcp_broker_node_info{node=\"web1-8080\"}"), QByteArray("1"));
    QVERIFY(text.contains("# TYPE forgejo_mcp_broker_node_info gauge\n"));
}

void tst_BrokerMetrics::histogramIsCumulative()
{
    metrics::observeOperation(metrics::Method::ToolsCall, 200us); // le 0.0005
    metrics::observeOperation(metrics::Method::ToolsCall, 3ms);   // le 0.005
    metrics::observeOperation(metrics::Method::ToolsCall, 3ms);   // le 0.005
    metrics::observeOperation(metrics::Method::ToolsCall, 120s);  // +Inf only
    const QByteArray text = renderMetrics(MetricsGauges{}, QStringLiteral("1"));
    const QByteArray bucket =
        "forgejo_mcp_broker_operation_duration_seconds_bucket{mcp_method_name=\"tools/call\",le=\"";
    QCOMPARE(sampleValue(text, bucket + "0.0005\"}"), QByteArray("1"));
    QCOMPARE(sampleValue(text, bucket + "0.0025\"}"), QByteArray("1"));
    QCOMPARE(sampleValue(text, bucket + "0.005\"}"), QByteArray("3"));
    QCOMPARE(sampleValue(text, bucket + "10\"}"), QByteArray("3"));
    QCOMPARE(sampleValue(text, bucket + "+Inf\"}"), QByteArray("4"));
    QCOMPARE(sampleValue(
                 text, "forgejo_mcp_broker_operation_duration_seconds_count{mcp_method_name=\"tools/call\"}"),
             QByteArray("4"));
    QCOMPARE(sampleValue(text,
                         "forgejo_mcp_broker_operation_duration_seconds_sum{mcp_method_name=\"tools/call\"}"),
             QByteArray("120.0062"));
    // Every method has its series, and a client's made-up method is "other", not a new one.
    const int methods = int(text.count("_count{mcp_method_name="));
    QCOMPARE(methods, int(metrics::Method::Count));
}

void tst_BrokerMetrics::gaugesAndBuildInfo()
{
    MetricsGauges gauges;
    gauges.sessionsOpen = 7;
    gauges.userChildrenOpen = 3;
    gauges.sessionsStopping = 2;
    gauges.sessionsMax = 900;
    gauges.openFds = 41;
    gauges.maxFds = 1024;
    gauges.startTimeSeconds = 1796462371.5;
    const QByteArray text = renderMetrics(gauges, QStringLiteral("0.9.1"));
    QCOMPARE(sampleValue(text, "forgejo_mcp_broker_sessions_open"), QByteArray("7"));
    QCOMPARE(sampleValue(text, "forgejo_mcp_broker_user_children_open"), QByteArray("3"));
    QCOMPARE(sampleValue(text, "forgejo_mcp_broker_sessions_stopping"), QByteArray("2"));
    QCOMPARE(sampleValue(text, "forgejo_mcp_broker_sessions_max"), QByteArray("900"));
    QCOMPARE(sampleValue(text, "process_open_fds"), QByteArray("41"));
    QCOMPARE(sampleValue(text, "process_max_fds"), QByteArray("1024"));
    QCOMPARE(sampleValue(text, "process_start_time_seconds"), QByteArray("1796462371.5"));
    const QByteArray info =
        "forgejo_mcp_broker_build_info{version=\"0.9.1\",qt_version=\"" + QByteArray(qVersion()) + "\"}";
    QCOMPARE(sampleValue(text, info), QByteArray("1"));
    // Unknown descriptor counts are left out rather than shown as a number.
    const QByteArray unknown = renderMetrics(MetricsGauges{}, QStringLiteral("0.9.1"));
    QVERIFY(!unknown.contains("process_open_fds"));
    QVERIFY(!unknown.contains("process_max_fds"));
}

void tst_BrokerMetrics::everyFamilyHasHelpAndType()
{
    const QByteArray text = renderMetrics(MetricsGauges{0, 0, 1, 3, 4, 5}, QStringLiteral("1"));
    static const QRegularExpression sampleLine(
        QStringLiteral("^([a-z_]+?)(_bucket|_sum|_count)?(\\{.*\\})? \\S+$"));
    QSet<QByteArray> typed;
    QSet<QByteArray> helped;
    for (const QByteArray &line : text.split('\n')) {
        if (line.isEmpty())
            continue;
        if (line.startsWith("# TYPE ")) {
            typed.insert(line.split(' ').value(2));
            continue;
        }
        if (line.startsWith("# HELP ")) {
            helped.insert(line.split(' ').value(2));
            continue;
        }
        const QRegularExpressionMatch match = sampleLine.match(QString::fromUtf8(line));
        QVERIFY2(match.hasMatch(), line.constData());
        const QByteArray base = match.captured(1).toUtf8();
        const QByteArray whole = base + match.captured(2).toUtf8();
        QVERIFY2(typed.contains(base) || typed.contains(whole), line.constData());
    }
    QCOMPARE(helped, typed);
}

QTEST_APPLESS_MAIN(tst_BrokerMetrics)
#include "tst_brokermetrics.moc"

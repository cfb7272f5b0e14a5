#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include "revision/RequestState.h"
#include "revision/StatelessTranslation.h"

using namespace fmb;
namespace T = fmb::StatelessTranslation;

// The requestState of a parked 2026-07-28 call (issue 13, mrtr): signed for
// one principal and request, refused when forged, expired or presented by
// another; and which client capabilities an input request needs.
class tst_RequestState : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTrip();
    void refused_data();
    void refused();
    void anotherBrokerKeyIsForged();
    void missingCapabilities_data();
    void missingCapabilities();
    void childRequestDropsTheRetryChannel();
};

namespace {

constexpr qint64 Now = 1'800'000'000'000;
const QByteArray Key(32, 'k');

RequestStateClaims claims()
{
    return {QStringLiteral("alice"), QStringLiteral("tools/call"), QStringLiteral("sample"),
            QStringLiteral("0123456789abcdef"), Now + 60'000};
}

QJsonObject object(const QByteArray &json)
{
    return QJsonDocument::fromJson(json).object();
}

} // namespace

void tst_RequestState::roundTrip()
{
    const RequestStateSigner signer(Key);
    const QString token = signer.sign(claims());
    QVERIFY(!token.contains(QLatin1String("alice"))); // the principal is bound, not told
    const auto verified = signer.verify(token, QStringLiteral("alice"), QStringLiteral("tools/call"),
                                        QStringLiteral("sample"), Now);
    QVERIFY(verified.ok());
    QCOMPARE(verified.value().parkId, claims().parkId);
    QCOMPARE(verified.value().expiresMs, claims().expiresMs);
}

void tst_RequestState::refused_data()
{
    QTest::addColumn<QString>("token");
    QTest::addColumn<QString>("principal");
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("name");
    QTest::addColumn<qint64>("now");
    QTest::addColumn<RequestStateRefusal>("why");

    const RequestStateSigner signer(Key);
    const QString good = signer.sign(claims());
    const QString alice = QStringLiteral("alice");
    const QString call = QStringLiteral("tools/call");
    const QString sample = QStringLiteral("sample");
    const qsizetype dot = good.indexOf(QLatin1Char('.'));
    // The payload rewritten to name another parked call, the MAC kept.
    const QString otherPayload =
        QString::fromLatin1(QByteArray(R"({"c":"ffffffffffffffff","e":"1800000060000"})")
                                .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals)) +
        good.mid(dot);
    QString flipped = good;
    flipped[flipped.size() - 2] =
        flipped.at(flipped.size() - 2) == QLatin1Char('A') ? QLatin1Char('B') : QLatin1Char('A');

    QTest::newRow("another user's") << good << QStringLiteral("bob") << call << sample << Now
                                    << RequestStateRefusal::Forged;
    QTest::newRow("another method") << good << alice << QStringLiteral("prompts/get") << sample << Now
                                    << RequestStateRefusal::Forged;
    QTest::newRow("another tool") << good << alice << call << QStringLiteral("echo") << Now
                                  << RequestStateRefusal::Forged;
    QTest::newRow("payload swapped") << otherPayload << alice << call << sample << Now
                                     << RequestStateRefusal::Forged;
    QTest::newRow("MAC flipped") << flipped << alice << call << sample << Now << RequestStateRefusal::Forged;
    QTest::newRow("expired: at the deadline")
        << good << alice << call << sample << Now + 60'000 << RequestStateRefusal::Expired;
    QTest::newRow("expired: later") << good << alice << call << sample << Now + 3'600'000
                                    << RequestStateRefusal::Expired;
    QTest::newRow("no dot") << QStringLiteral("abc") << alice << call << sample << Now
                            << RequestStateRefusal::Malformed;
    QTest::newRow("two dots") << good + QStringLiteral(".x") << alice << call << sample << Now
                              << RequestStateRefusal::Malformed;
    QTest::newRow("not base64") << QStringLiteral("!!.??") << alice << call << sample << Now
                                << RequestStateRefusal::Malformed;
    QTest::newRow("empty") << QString() << alice << call << sample << Now << RequestStateRefusal::Malformed;
    QTest::newRow("over 1024 characters") << QString(2000, QLatin1Char('a')) << alice << call << sample << Now
                                          << RequestStateRefusal::Malformed;
}

void tst_RequestState::refused()
{
    QFETCH(QString, token);
    QFETCH(QString, principal);
    QFETCH(QString, method);
    QFETCH(QString, name);
    QFETCH(qint64, now);
    QFETCH(RequestStateRefusal, why);
    const auto verified = RequestStateSigner(Key).verify(token, principal, method, name, now);
    QVERIFY(!verified.ok());
    QCOMPARE(verified.error(), why);
}

void tst_RequestState::anotherBrokerKeyIsForged()
{
    const QString token = RequestStateSigner().sign(claims()); // a random key
    const auto verified = RequestStateSigner().verify(
        token, QStringLiteral("alice"), QStringLiteral("tools/call"), QStringLiteral("sample"), Now);
    QVERIFY(!verified.ok());
    QCOMPARE(verified.error(), RequestStateRefusal::Forged);
}

void tst_RequestState::missingCapabilities_data()
{
    QTest::addColumn<QJsonObject>("serverRequest");
    QTest::addColumn<QJsonObject>("declared");
    QTest::addColumn<QJsonObject>("missing");

    const QJsonObject sampling =
        object(R"({"id":1,"method":"sampling/createMessage","params":{"maxTokens":9}})");
    const QJsonObject samplingTools =
        object(R"({"id":1,"method":"sampling/createMessage","params":{"tools":[],"maxTokens":9}})");
    const QJsonObject form = object(R"({"id":2,"method":"elicitation/create","params":{"message":"?"}})");
    const QJsonObject url = object(R"({"id":2,"method":"elicitation/create","params":{"mode":"url"}})");
    const QJsonObject roots = object(R"({"id":3,"method":"roots/list"})");
    QTest::newRow("sampling declared") << sampling << object(R"({"sampling":{}})") << QJsonObject();
    QTest::newRow("sampling undeclared")
        << sampling << object(R"({"roots":{}})") << object(R"({"sampling":{}})");
    QTest::newRow("sampling with tools, tools undeclared")
        << samplingTools << object(R"({"sampling":{}})") << object(R"({"sampling":{"tools":{}}})");
    QTest::newRow("form elicitation, bare elicitation declared")
        << form << object(R"({"elicitation":{}})") << QJsonObject();
    QTest::newRow("form elicitation, only url declared")
        << form << object(R"({"elicitation":{"url":{}}})") << object(R"({"elicitation":{"form":{}}})");
    QTest::newRow("url elicitation, bare elicitation declared")
        << url << object(R"({"elicitation":{}})") << object(R"({"elicitation":{"url":{}}})");
    QTest::newRow("roots undeclared") << roots << QJsonObject() << object(R"({"roots":{}})");
    QTest::newRow("ping is no input request")
        << object(R"({"id":4,"method":"ping"})") << QJsonObject() << QJsonObject();
}

void tst_RequestState::missingCapabilities()
{
    QFETCH(QJsonObject, serverRequest);
    QFETCH(QJsonObject, declared);
    QFETCH(QJsonObject, missing);
    QCOMPARE(T::missingCapabilities(T::requiredCapabilities(serverRequest), declared), missing);
}

void tst_RequestState::childRequestDropsTheRetryChannel()
{
    StatelessRequest request;
    request.method = QStringLiteral("tools/call");
    request.params = object(R"({"name":"sample","inputResponses":{"k":{}},"requestState":"x.y"})");
    const QJsonObject child =
        T::childRequest(request, QStringLiteral("fmb-1"), QJsonValue(QJsonValue::Undefined));
    QCOMPARE(child.value(QLatin1String("params")).toObject(), object(R"({"name":"sample"})"));
}

QTEST_GUILESS_MAIN(tst_RequestState)
#include "tst_requeststate.moc"

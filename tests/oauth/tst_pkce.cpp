#include <QTest>

#include "oauth/Pkce.h"

class tst_Pkce : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void rfc7636AppendixB();
    void verify_data();
    void verify();
    void generatedVerifiersAreValid();
};

void tst_Pkce::rfc7636AppendixB()
{
    const QString verifier = QStringLiteral("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    QCOMPARE(fmb::Pkce::s256(verifier), QStringLiteral("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
}

void tst_Pkce::verify_data()
{
    QTest::addColumn<QString>("verifier");
    QTest::addColumn<QString>("challenge");
    QTest::addColumn<bool>("ok");

    const QString verifier = QStringLiteral("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    const QString challenge = QStringLiteral("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    QTest::newRow("matching") << verifier << challenge << true;
    QTest::newRow("plain: the verifier as its own challenge") << verifier << verifier << false;
    QTest::newRow("another verifier") << QString(43, QLatin1Char('a')) << challenge << false;
    QTest::newRow("verifier of 42 characters")
        << verifier.left(42) << fmb::Pkce::s256(verifier.left(42)) << false;
    QTest::newRow("verifier of 129 characters")
        << QString(129, QLatin1Char('a')) << fmb::Pkce::s256(QString(129, QLatin1Char('a'))) << false;
    QTest::newRow("verifier of 128 characters")
        << QString(128, QLatin1Char('~')) << fmb::Pkce::s256(QString(128, QLatin1Char('~'))) << true;
    const QString spaced = QStringLiteral(" ") + verifier.mid(1);
    QTest::newRow("verifier with a space") << spaced << fmb::Pkce::s256(spaced) << false;
    QTest::newRow("challenge with padding") << verifier << challenge + QLatin1Char('=') << false;
    QTest::newRow("empty") << QString() << QString() << false;
}

void tst_Pkce::verify()
{
    QFETCH(QString, verifier);
    QFETCH(QString, challenge);
    QFETCH(bool, ok);
    QCOMPARE(fmb::Pkce::verifyS256(verifier, challenge), ok);
}

void tst_Pkce::generatedVerifiersAreValid()
{
    const QByteArray a = fmb::Pkce::generateVerifier();
    const QByteArray b = fmb::Pkce::generateVerifier();
    QVERIFY(a != b);
    QVERIFY(fmb::Pkce::isValidVerifier(QString::fromLatin1(a)));
    QVERIFY(fmb::Pkce::isValidS256Challenge(fmb::Pkce::s256(QString::fromLatin1(a))));
}

QTEST_GUILESS_MAIN(tst_Pkce)
#include "tst_pkce.moc"

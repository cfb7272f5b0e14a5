#include <QTest>

#include "base/Redactor.h"

using namespace fmb;

namespace {

QByteArray marker(const QByteArray &secret)
{
    return "[redacted:" + fingerprint(secret).toLatin1() + ']';
}

// Replaces "{0}", "{1}", ... by the marker of secrets[0], secrets[1], ...
QByteArray expand(QByteArray text, const QByteArrayList &secrets)
{
    for (qsizetype i = 0; i < secrets.size(); ++i)
        text.replace(QByteArray('{' + QByteArray::number(i) + '}'), marker(secrets.at(i)));
    return text;
}

} // namespace

class tst_Redactor : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void fingerprint_data();
    void fingerprint();
    void redact_data();
    void redact();
    void noSecretsIsIdentity();
    void shortSecretsIgnored_data();
    void shortSecretsIgnored();
    void refcount();
    void removeUnknownIsHarmless();
    void clear();
    void nonAsciiSecretInQString();
};

void tst_Redactor::init()
{
    Redactor::clear();
}

void tst_Redactor::cleanup()
{
    Redactor::clear();
}

void tst_Redactor::fingerprint_data()
{
    QTest::addColumn<QByteArray>("secret");
    QTest::addColumn<QString>("expected");

    // FIPS 180-2 / well-known SHA-256 digests, first 8 hex digits.
    QTest::newRow("empty") << QByteArray() << QStringLiteral("e3b0c442");
    QTest::newRow("abc") << QByteArray("abc") << QStringLiteral("ba7816bf");
    QTest::newRow("quick brown fox") << QByteArray("The quick brown fox jumps over the lazy dog")
                                     << QStringLiteral("d7a8fbb3");
    QTest::newRow("hello") << QByteArray("hello") << QStringLiteral("2cf24dba");
}

void tst_Redactor::fingerprint()
{
    QFETCH(QByteArray, secret);
    QFETCH(QString, expected);

    const QString print = fmb::fingerprint(secret);
    QCOMPARE(print, expected);
    QCOMPARE(print.size(), 8);
    for (QChar c : print)
        QVERIFY2((c >= QLatin1Char('0') && c <= QLatin1Char('9')) ||
                     (c >= QLatin1Char('a') && c <= QLatin1Char('f')),
                 qPrintable(print));
}

void tst_Redactor::redact_data()
{
    QTest::addColumn<QByteArrayList>("secrets");
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QByteArray>("expected"); // "{n}" stands for the marker of secrets[n]

    QTest::newRow("one secret") << QByteArrayList{"gto_abcdef123456"}
                                << QByteArray("token gto_abcdef123456 ok") << QByteArray("token {0} ok");
    QTest::newRow("every occurrence")
        << QByteArrayList{"hunter22"} << QByteArray("hunter22/hunter22hunter22") << QByteArray("{0}/{0}{0}");
    QTest::newRow("text without secrets unchanged")
        << QByteArrayList{"hunter22"} << QByteArray("nothing here") << QByteArray("nothing here");
    QTest::newRow("case-sensitive") << QByteArrayList{"Hunter22"} << QByteArray("hunter22 HUNTER22 Hunter22")
                                    << QByteArray("hunter22 HUNTER22 {0}");
    QTest::newRow("exactly 4 bytes is a secret")
        << QByteArrayList{"abcd"} << QByteArray("xabcdx") << QByteArray("x{0}x");
    QTest::newRow("two secrets") << QByteArrayList{"first-secret", "second-secret"}
                                 << QByteArray("a=first-secret b=second-secret") << QByteArray("a={0} b={1}");
    QTest::newRow("longest first: outer secret whole")
        << QByteArrayList{"secret", "my-secret-token"} << QByteArray("x my-secret-token y secret z")
        << QByteArray("x {1} y {0} z");
    QTest::newRow("longest first, registered the other way round")
        << QByteArrayList{"my-secret-token", "secret"} << QByteArray("x my-secret-token y secret z")
        << QByteArray("x {0} y {1} z");
    QTest::newRow("prefix of a longer secret") << QByteArrayList{"token", "token-refresh"}
                                               << QByteArray("token-refresh,token") << QByteArray("{1},{0}");
    QTest::newRow("secret in a JSON line")
        << QByteArrayList{"eyJhbGciOiJIUzI1NiJ9.payload.sig"}
        << QByteArray(R"({"Authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"})")
        << QByteArray(R"({"Authorization":"Bearer {0}"})");
}

void tst_Redactor::redact()
{
    QFETCH(QByteArrayList, secrets);
    QFETCH(QByteArray, text);
    QFETCH(QByteArray, expected);

    for (const QByteArray &secret : secrets)
        Redactor::addSecret(secret);
    QCOMPARE(Redactor::secretCount(), secrets.size());

    const QByteArray want = expand(expected, secrets);
    QCOMPARE(Redactor::redact(text), want);
    QCOMPARE(Redactor::redact(QString::fromUtf8(text)), QString::fromUtf8(want));
}

void tst_Redactor::noSecretsIsIdentity()
{
    QCOMPARE(Redactor::secretCount(), 0);
    QByteArray bytes("anything [redacted:00000000] at all\n");
    bytes.append('\0').append("tail");
    QCOMPARE(Redactor::redact(bytes), bytes);
    QCOMPARE(Redactor::redact(QStringLiteral("ä text")), QStringLiteral("ä text"));
}

void tst_Redactor::shortSecretsIgnored_data()
{
    QTest::addColumn<QByteArray>("secret");

    QTest::newRow("empty") << QByteArray();
    QTest::newRow("1 byte") << QByteArray("a");
    QTest::newRow("3 bytes") << QByteArray("abc");
}

void tst_Redactor::shortSecretsIgnored()
{
    QFETCH(QByteArray, secret);

    Redactor::addSecret(secret);
    QCOMPARE(Redactor::secretCount(), 0);
    const QByteArray text = "abc a b c abcabc";
    QCOMPARE(Redactor::redact(text), text);
    QCOMPARE(Redactor::redact(QString::fromLatin1(text)), QString::fromLatin1(text));
}

void tst_Redactor::refcount()
{
    const QByteArray secret = "shared-secret-value";
    const QByteArray text = "v=" + secret;
    const QByteArray redacted = "v=" + marker(secret);

    Redactor::addSecret(secret); // e.g. two sessions holding the same token
    Redactor::addSecret(secret);
    QCOMPARE(Redactor::secretCount(), 1);
    QCOMPARE(Redactor::redact(text), redacted);

    Redactor::removeSecret(secret); // one owner let go: still secret
    QCOMPARE(Redactor::secretCount(), 1);
    QCOMPARE(Redactor::redact(text), redacted);

    Redactor::removeSecret(secret); // the last owner let go
    QCOMPARE(Redactor::secretCount(), 0);
    QCOMPARE(Redactor::redact(text), text);

    Redactor::removeSecret(secret); // one too many: no underflow that a later add would hide
    Redactor::addSecret(secret);
    QCOMPARE(Redactor::secretCount(), 1);
    QCOMPARE(Redactor::redact(text), redacted);
}

void tst_Redactor::removeUnknownIsHarmless()
{
    Redactor::addSecret("kept-secret");
    Redactor::removeSecret("never-added");
    Redactor::removeSecret("abc"); // too short to have been added
    QCOMPARE(Redactor::secretCount(), 1);
    QCOMPARE(Redactor::redact(QByteArray("kept-secret")), marker("kept-secret"));
}

void tst_Redactor::clear()
{
    Redactor::addSecret("secret-one");
    Redactor::addSecret("secret-two");
    Redactor::addSecret("secret-two");
    QCOMPARE(Redactor::secretCount(), 2);
    Redactor::clear();
    QCOMPARE(Redactor::secretCount(), 0);
    QCOMPARE(Redactor::redact(QByteArray("secret-one secret-two")), QByteArray("secret-one secret-two"));
}

void tst_Redactor::nonAsciiSecretInQString()
{
    const QString secret = QStringLiteral("пароль-🔑-secret");
    Redactor::addSecret(secret.toUtf8());
    const QString text = QStringLiteral("ключ: ") + secret + QStringLiteral(" — ok");
    QCOMPARE(Redactor::redact(text), QStringLiteral("ключ: ") + QString::fromLatin1(marker(secret.toUtf8())) +
                                         QStringLiteral(" — ok"));
}

QTEST_GUILESS_MAIN(tst_Redactor)
#include "tst_redactor.moc"

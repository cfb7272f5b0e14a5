#include <sys/stat.h>

#include <QDir>
#include <QTemporaryDir>
#include <QTest>

#include "oauth/LoginCookie.h"

using fmb::LoginCookie;
using fmb::LoginIdentity;

class tst_LoginCookie : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTrip();
    void refused_data();
    void refused();
    void keyFileSurvivesAndIsPrivate();
};

namespace {

LoginIdentity alice(const QDateTime &expires)
{
    LoginIdentity identity;
    identity.userId = 1;
    identity.login = QStringLiteral("alice");
    identity.expiresAt = expires;
    return identity;
}

} // namespace

void tst_LoginCookie::roundTrip()
{
    const LoginCookie cookie = LoginCookie::ephemeral();
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const QByteArray sealed = cookie.seal(alice(now.addSecs(60)));
    QVERIFY(!sealed.isEmpty());
    QVERIFY(!sealed.contains("alice"));
    for (char c : sealed)
        QVERIFY(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    const auto opened = cookie.open(sealed, now);
    QVERIFY(opened.ok());
    QCOMPARE(opened.value().userId, 1);
    QCOMPARE(opened.value().login, QStringLiteral("alice"));
}

void tst_LoginCookie::refused_data()
{
    QTest::addColumn<QString>("kind");
    QTest::newRow("expired") << QStringLiteral("expired");
    QTest::newRow("sealed with another key") << QStringLiteral("other-key");
    QTest::newRow("one byte changed") << QStringLiteral("tampered");
    QTest::newRow("not base64url") << QStringLiteral("garbage");
    QTest::newRow("empty") << QStringLiteral("empty");
    QTest::newRow("over 1 KiB") << QStringLiteral("huge");
}

void tst_LoginCookie::refused()
{
    QFETCH(QString, kind);
    const LoginCookie cookie = LoginCookie::ephemeral();
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QByteArray value = cookie.seal(alice(now.addSecs(60)));
    if (kind == QLatin1String("expired"))
        value = cookie.seal(alice(now.addSecs(-1)));
    else if (kind == QLatin1String("other-key"))
        value = LoginCookie::ephemeral().seal(alice(now.addSecs(60)));
    else if (kind == QLatin1String("tampered"))
        value[10] = value[10] == 'A' ? 'B' : 'A';
    else if (kind == QLatin1String("garbage"))
        value = "!!!not base64!!!";
    else if (kind == QLatin1String("empty"))
        value.clear();
    else if (kind == QLatin1String("huge"))
        value = QByteArray(2000, 'A');
    const auto opened = cookie.open(value, now);
    QVERIFY(!opened.ok());
    QCOMPARE(opened.error().code, fmb::ErrorCode::Unauthorized);
}

void tst_LoginCookie::keyFileSurvivesAndIsPrivate()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = QDir(dir.path()).filePath(LoginCookie::keyFileName());
    const auto first = LoginCookie::fromKeyFile(path);
    QVERIFY(first.ok());
    struct stat st = {};
    QCOMPARE(::stat(QFile::encodeName(path).constData(), &st), 0);
    QCOMPARE(st.st_mode & 0777, 0600u);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const QByteArray sealed = first.value().seal(alice(now.addSecs(60)));
    const auto second = LoginCookie::fromKeyFile(path);
    QVERIFY(second.ok());
    QVERIFY(second.value().open(sealed, now).ok());
}

QTEST_GUILESS_MAIN(tst_LoginCookie)
#include "tst_logincookie.moc"

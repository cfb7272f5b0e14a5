// AuditLog on real files: the line format, mode 0600, appending, reopening
// after a rotation, and a write failure logged once.
#include <sys/stat.h>

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include "base/AuditLog.h"

using namespace fmb;

namespace {

QList<QJsonObject> readLines(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    QList<QJsonObject> lines;
    while (!file.atEnd())
        lines.append(QJsonDocument::fromJson(file.readLine()).object());
    return lines;
}

QStringList warnings;
void capture(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (type == QtWarningMsg && QLatin1String(context.category) == QLatin1String("fmb.audit"))
        warnings.append(message);
}

} // namespace

class tst_AuditLog : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void formatLine_data();
    void formatLine();
    void fileIsPrivateAndAppended();
    void reopenFollowsRotation();
    void failedWriteLoggedOnce();
    void openFailureNamesThePath();
};

void tst_AuditLog::formatLine_data()
{
    QTest::addColumn<QString>("event");
    QTest::addColumn<QJsonObject>("fields");
    QTest::addColumn<QByteArray>("line");
    QTest::newRow("no fields") << QStringLiteral("session.start") << QJsonObject()
                               << QByteArray(R"({"ts":"2026-12-05T11:44:02.345Z","event":"session.start"})"
                                             "\n");
    QTest::newRow("fields sorted after ts and event")
        << QStringLiteral("user.revoked")
        << QJsonObject{{QStringLiteral("user"), QStringLiteral("alice")}, {QStringLiteral("grants"), 2}}
        << QByteArray(R"({"ts":"2026-12-05T11:44:02.345Z","event":"user.revoked","grants":2,"user":"alice"})"
                      "\n");
    QTest::newRow("empty strings left out, quotes escaped")
        << QStringLiteral("sign_in")
        << QJsonObject{{QStringLiteral("client_name"), QString()},
                       {QStringLiteral("user"), QStringLiteral("a\"b\nc")}}
        << QByteArray(R"({"ts":"2026-12-05T11:44:02.345Z","event":"sign_in","user":"a\"b\nc"})"
                      "\n");
    QTest::newRow("a field cannot replace ts or event")
        << QStringLiteral("session.end")
        << QJsonObject{{QStringLiteral("ts"), QStringLiteral("forged")}, {QStringLiteral("event"), 1}}
        << QByteArray(R"({"ts":"2026-12-05T11:44:02.345Z","event":"session.end"})"
                      "\n");
}

void tst_AuditLog::formatLine()
{
    QFETCH(QString, event);
    QFETCH(QJsonObject, fields);
    QFETCH(QByteArray, line);
    const QDateTime when(QDate(2026, 12, 5), QTime(11, 44, 2, 345), Qt::UTC);
    QCOMPARE(AuditLog::formatLine(event, fields, when), line);
}

void tst_AuditLog::fileIsPrivateAndAppended()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("audit.log"));
    {
        QFile old(path);
        QVERIFY(old.open(QIODevice::WriteOnly));
        old.write(R"({"ts":"x","event":"before"})"
                  "\n");
        QVERIFY(old.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ReadOther));
    }
    AuditLog audit(path);
    QVERIFY(!audit.toJournal());
    QVERIFY(audit.open().ok());
    audit.record(QStringLiteral("session.start"), {{QStringLiteral("user"), QStringLiteral("alice")}});
    audit.record(QStringLiteral("session.end"), {{QStringLiteral("reason"), QStringLiteral("idle timeout")}});
    struct stat info = {};
    QCOMPARE(::stat(QFile::encodeName(path).constData(), &info), 0);
    QCOMPARE(info.st_mode & 0777, mode_t(0600));
    const QList<QJsonObject> lines = readLines(path);
    QCOMPARE(lines.size(), 3);
    QCOMPARE(lines.at(0).value(QLatin1String("event")).toString(), QStringLiteral("before"));
    QCOMPARE(lines.at(1).value(QLatin1String("user")).toString(), QStringLiteral("alice"));
    QCOMPARE(lines.at(2).value(QLatin1String("reason")).toString(), QStringLiteral("idle timeout"));
    QVERIFY(QDateTime::fromString(lines.at(2).value(QLatin1String("ts")).toString(), Qt::ISODateWithMs)
                .isValid());
}

void tst_AuditLog::reopenFollowsRotation()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("audit.log"));
    AuditLog audit(path);
    QVERIFY(audit.open().ok());
    audit.record(QStringLiteral("one"), {});
    QVERIFY(QFile::rename(path, path + QStringLiteral(".1"))); // logrotate
    audit.record(QStringLiteral("two"), {});                   // still the old file
    QVERIFY(audit.reopen().ok());
    audit.record(QStringLiteral("three"), {});
    QCOMPARE(readLines(path + QStringLiteral(".1")).size(), 2);
    const QList<QJsonObject> fresh = readLines(path);
    QCOMPARE(fresh.size(), 1);
    QCOMPARE(fresh.at(0).value(QLatin1String("event")).toString(), QStringLiteral("three"));
}

void tst_AuditLog::failedWriteLoggedOnce()
{
    if (!QFile::exists(QStringLiteral("/dev/full")))
        QSKIP("no /dev/full");
    warnings.clear();
    const QtMessageHandler previous = qInstallMessageHandler(capture);
    AuditLog audit(QStringLiteral("/dev/full"));
    QVERIFY(audit.open().ok());
    audit.record(QStringLiteral("one"), {});
    audit.record(QStringLiteral("two"), {});
    audit.record(QStringLiteral("three"), {});
    qInstallMessageHandler(previous);
    QCOMPARE(warnings.size(), 1);
    QVERIFY2(warnings.at(0).contains(QLatin1String("/dev/full")), qPrintable(warnings.at(0)));
}

void tst_AuditLog::openFailureNamesThePath()
{
    AuditLog audit(QStringLiteral("/nonexistent-dir/audit.log"));
    const Result<void> opened = audit.open();
    QVERIFY(!opened.ok());
    QVERIFY(opened.error().message.contains(QLatin1String("/nonexistent-dir/audit.log")));
    QVERIFY(AuditLog(QStringLiteral("journal")).toJournal());
    QVERIFY(AuditLog(QStringLiteral("-")).toJournal());
}

QTEST_GUILESS_MAIN(tst_AuditLog)
#include "tst_auditlog.moc"

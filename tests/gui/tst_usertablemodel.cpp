#include <QSignalSpy>
#include <QTest>

#include "SessionTableModel.h"
#include "UserTableModel.h"

using namespace fmb;

// The console's Users tab: one row per user, counted from the session table
// as it changes, the soonest token expiry, rows kept in place when only
// counts move (so a selection survives).
class tst_UserTableModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void countsPerUser();
    void followsTheSessions();
    void countsInPlace();
};

namespace {

constexpr qint64 Now = 1'800'000'000'000;

SessionInfo session(const QString &id, const QString &user, const QString &client, qint64 tokenExpiresMs = 0)
{
    SessionInfo info;
    info.id = id;
    info.user = user;
    info.client = client;
    info.state = QStringLiteral("ready");
    info.createdMs = Now - 60'000;
    info.tokenExpiresMs = tokenExpiresMs;
    return info;
}

SessionInfo userChild(const QString &id, const QString &user, int inFlight, qint64 tokenExpiresMs)
{
    SessionInfo info = session(id, user, QString(), tokenExpiresMs);
    info.kind = QStringLiteral("user child");
    info.pendingRequests = inFlight;
    return info;
}

QString cell(const UserTableModel &model, const QString &user, int column)
{
    return model.index(model.rowOf(user), column).data().toString();
}

} // namespace

void tst_UserTableModel::countsPerUser()
{
    SessionTableModel sessions;
    sessions.setNow(Now);
    sessions.setSessions({
        session(QStringLiteral("a1"), QStringLiteral("alice"), QStringLiteral("vscode"), Now + 3'600'000),
        session(QStringLiteral("a2"), QStringLiteral("alice"), QStringLiteral("claude-code"), Now + 600'000),
        session(QStringLiteral("a3"), QStringLiteral("alice"), QStringLiteral("vscode"), Now + 7'200'000),
        userChild(QStringLiteral("b1"), QStringLiteral("bob"), 3, Now + 1'800'000),
    });
    UserTableModel users(&sessions);
    QCOMPARE(users.rowCount(), 2);
    const UserTableModel::User alice = users.userAt(users.rowOf(QStringLiteral("alice")));
    QCOMPARE(alice.sessions, 3);
    QCOMPARE(alice.userChildren, 0);
    QCOMPARE(alice.tokenExpiresMs, Now + 600'000); // the soonest of the three
    QCOMPARE(alice.clients, (QStringList{QStringLiteral("claude-code"), QStringLiteral("vscode")}));
    QCOMPARE(cell(users, QStringLiteral("alice"), UserTableModel::TokenColumn),
             sessions.tokenText(Now + 600'000));
    QCOMPARE(cell(users, QStringLiteral("alice"), UserTableModel::ClientsColumn),
             QStringLiteral("claude-code, vscode"));

    const UserTableModel::User bob = users.userAt(users.rowOf(QStringLiteral("bob")));
    QCOMPARE(bob.sessions, 0);
    QCOMPARE(bob.userChildren, 1);
    QCOMPARE(bob.inFlight, 3);
    QCOMPARE(cell(users, QStringLiteral("bob"), UserTableModel::InFlightColumn), QStringLiteral("3"));
    QCOMPARE(cell(users, QStringLiteral("bob"), UserTableModel::ClientsColumn), QStringLiteral("–"));
    QCOMPARE(users.index(0, 0).data(UserTableModel::UserNameRole).toString(), QStringLiteral("alice"));
}

void tst_UserTableModel::followsTheSessions()
{
    SessionTableModel sessions;
    sessions.setNow(Now);
    UserTableModel users(&sessions);
    QCOMPARE(users.rowCount(), 0);
    sessions.upsert(session(QStringLiteral("c1"), QStringLiteral("carol"), QStringLiteral("cursor")));
    QCOMPARE(users.rowCount(), 1);
    QCOMPARE(cell(users, QStringLiteral("carol"), UserTableModel::TokenColumn), sessions.tokenText(0));
    sessions.upsert(session(QStringLiteral("d1"), QStringLiteral("dave"), QStringLiteral("cursor")));
    QCOMPARE(users.rowCount(), 2);
    sessions.remove(QStringLiteral("c1"));
    QCOMPARE(users.rowCount(), 1);
    QCOMPARE(users.rowOf(QStringLiteral("carol")), -1);
    sessions.clear();
    QCOMPARE(users.rowCount(), 0);
}

void tst_UserTableModel::countsInPlace()
{
    SessionTableModel sessions;
    sessions.setNow(Now);
    sessions.upsert(session(QStringLiteral("a1"), QStringLiteral("alice"), QStringLiteral("vscode")));
    UserTableModel users(&sessions);
    QSignalSpy reset(&users, &QAbstractItemModel::modelReset);
    QSignalSpy changed(&users, &QAbstractItemModel::dataChanged);
    // Another session of a known user, and the clock: the rows stay.
    sessions.upsert(session(QStringLiteral("a2"), QStringLiteral("alice"), QStringLiteral("vscode")));
    sessions.setNow(Now + 1000);
    QCOMPARE(reset.count(), 0);
    QVERIFY(changed.count() >= 2);
    QCOMPARE(cell(users, QStringLiteral("alice"), UserTableModel::SessionsColumn), QStringLiteral("2"));
}

QTEST_APPLESS_MAIN(tst_UserTableModel)
#include "tst_usertablemodel.moc"

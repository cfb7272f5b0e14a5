// SessionTableModel behind a QSortFilterProxyModel and a QTableView: live
// updates keep the selection, the token countdown and its marking.
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTest>
#include <QTranslator>

#include "SessionTableModel.h"

using namespace fmb;
using TokenStatus = SessionTableModel::TokenStatus;

namespace {

constexpr qint64 Now = 1767225600000; // 2026-01-01T00:00:00Z

SessionInfo session(const QString &id, const QString &user, qint64 createdOffsetS = 0)
{
    SessionInfo info;
    info.id = id;
    info.user = user;
    info.client = QStringLiteral("client-") + user;
    info.state = QStringLiteral("ready");
    info.createdMs = Now - 3600 * 1000 + createdOffsetS * 1000;
    info.lastActiveMs = Now - 10 * 1000;
    info.childPid = 1000 + int(id.size());
    return info;
}

struct Fixture {
    SessionTableModel model;
    QSortFilterProxyModel proxy;
    QTableView view;
    Fixture()
    {
        model.setNow(Now);
        proxy.setSourceModel(&model);
        proxy.setSortRole(SessionTableModel::SortRole);
        proxy.setDynamicSortFilter(true);
        view.setModel(&proxy);
        view.setSelectionBehavior(QAbstractItemView::SelectRows);
        view.setSelectionMode(QAbstractItemView::ExtendedSelection);
        view.setSortingEnabled(true);
    }
    QStringList selectedIds() const
    {
        QStringList ids;
        const QModelIndexList rows = view.selectionModel()->selectedRows();
        for (const QModelIndex &index : rows)
            ids.append(index.data(SessionTableModel::SessionIdRole).toString());
        ids.sort();
        return ids;
    }
    void select(const QString &id)
    {
        const QModelIndex index = proxy.mapFromSource(model.index(model.rowOf(id), 0));
        view.selectionModel()->select(index, QItemSelectionModel::Select | QItemSelectionModel::Rows);
    }
    QString tokenText(const QString &id) const
    {
        return model.index(model.rowOf(id), SessionTableModel::TokenColumn).data().toString();
    }
};

} // namespace

class tst_SessionTableModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void liveUpdatesKeepSelection();
    void updateIsInPlace();
    void relistKeepsSelection();
    void sortedByUserKeepsSelection();
    void countdown_data();
    void countdown();
    void countdownTicks();
    void refreshLeadFromInfo();
    void durationText_data();
    void durationText();
    void noTokenSortsLast();
    void shortIdAndTooltip();
    void userChildShowsRequestsInFlight();
    void norwegianBokmal();
};

void tst_SessionTableModel::liveUpdatesKeepSelection()
{
    Fixture f;
    f.model.upsert(session(QStringLiteral("aaaa"), QStringLiteral("alice"), 1));
    f.model.upsert(session(QStringLiteral("bbbb"), QStringLiteral("bob"), 2));
    f.model.upsert(session(QStringLiteral("cccc"), QStringLiteral("carol"), 3));
    f.select(QStringLiteral("bbbb"));
    QCOMPARE(f.selectedIds(), QStringList{QStringLiteral("bbbb")});

    QSignalSpy inserted(&f.model, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&f.model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy reset(&f.model, &QAbstractItemModel::modelReset);

    f.model.upsert(session(QStringLiteral("0000"), QStringLiteral("zed"), 0)); // sorts before everything
    SessionInfo changed = session(QStringLiteral("bbbb"), QStringLiteral("bob"), 2);
    changed.state = QStringLiteral("respawning");
    changed.childPid = 4242;
    f.model.upsert(changed);
    f.model.remove(QStringLiteral("aaaa"));
    f.model.remove(QStringLiteral("not-there"));

    QCOMPARE(inserted.count(), 1);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(reset.count(), 0);
    QCOMPARE(f.model.rowCount(), 3);
    QCOMPARE(f.selectedIds(), QStringList{QStringLiteral("bbbb")});
    const QModelIndex current = f.view.selectionModel()->selectedRows().constFirst();
    QCOMPARE(current.siblingAtColumn(SessionTableModel::PidColumn).data().toString(), QStringLiteral("4242"));

    // The selected row itself goes: nothing stays selected, nothing else gets selected.
    f.model.remove(QStringLiteral("bbbb"));
    QCOMPARE(f.selectedIds(), QStringList());
}

void tst_SessionTableModel::updateIsInPlace()
{
    Fixture f;
    f.model.upsert(session(QStringLiteral("aaaa"), QStringLiteral("alice")));
    QSignalSpy changed(&f.model, &QAbstractItemModel::dataChanged);
    QSignalSpy inserted(&f.model, &QAbstractItemModel::rowsInserted);
    SessionInfo update = session(QStringLiteral("aaaa"), QStringLiteral("alice"));
    update.tokenExpiresMs = Now + 600 * 1000;
    f.model.upsert(update);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 0);
    QCOMPARE(changed.at(0).at(0).toModelIndex().column(), 0);
    QCOMPARE(changed.at(0).at(1).toModelIndex().column(), SessionTableModel::ColumnCount - 1);
    QCOMPARE(f.tokenText(QStringLiteral("aaaa")), QStringLiteral("10m 00s"));
}

void tst_SessionTableModel::relistKeepsSelection()
{
    Fixture f;
    f.model.setSessions({session(QStringLiteral("aaaa"), QStringLiteral("alice"), 1),
                         session(QStringLiteral("bbbb"), QStringLiteral("bob"), 2)});
    f.select(QStringLiteral("aaaa"));
    f.select(QStringLiteral("bbbb"));
    QSignalSpy reset(&f.model, &QAbstractItemModel::modelReset);
    // After a reconnect the broker lists again: one gone, one new, one the same.
    f.model.setSessions({session(QStringLiteral("bbbb"), QStringLiteral("bob"), 2),
                         session(QStringLiteral("dddd"), QStringLiteral("dave"), 4)});
    QCOMPARE(reset.count(), 0);
    QCOMPARE(f.model.rowCount(), 2);
    QCOMPARE(f.selectedIds(), QStringList{QStringLiteral("bbbb")});
}

void tst_SessionTableModel::sortedByUserKeepsSelection()
{
    Fixture f;
    f.view.sortByColumn(SessionTableModel::UserColumn, Qt::DescendingOrder);
    f.model.upsert(session(QStringLiteral("aaaa"), QStringLiteral("alice")));
    f.model.upsert(session(QStringLiteral("bbbb"), QStringLiteral("bob")));
    f.select(QStringLiteral("aaaa"));
    QCOMPARE(f.proxy.index(1, SessionTableModel::UserColumn).data().toString(), QStringLiteral("alice"));
    // alice becomes "zoe": the row moves to the top and stays selected.
    f.model.upsert(session(QStringLiteral("aaaa"), QStringLiteral("zoe")));
    QCOMPARE(f.proxy.index(0, SessionTableModel::UserColumn).data().toString(), QStringLiteral("zoe"));
    QCOMPARE(f.selectedIds(), QStringList{QStringLiteral("aaaa")});
}

void tst_SessionTableModel::countdown_data()
{
    QTest::addColumn<qint64>("expiresMs");
    QTest::addColumn<QString>("text");
    QTest::addColumn<TokenStatus>("status");
    QTest::addColumn<bool>("coloured");
    QTest::addColumn<QString>("tooltipPart");
    QTest::newRow("local mode: no token") << qint64(0) << QStringLiteral("no token") << TokenStatus::None
                                          << false << QStringLiteral("local mode");
    QTest::newRow("an hour left") << Now + 3600 * 1000 << QStringLiteral("1h 00m") << TokenStatus::Valid
                                  << false << QStringLiteral("expires at");
    QTest::newRow("just outside the lead") << Now + 301 * 1000 << QStringLiteral("5m 01s")
                                           << TokenStatus::Valid << false << QStringLiteral("expires at");
    QTest::newRow("within the refresh lead")
        << Now + 299 * 1000 << QStringLiteral("4m 59s") << TokenStatus::Expiring << true
        << QStringLiteral("refresh lead");
    QTest::newRow("a second left") << Now + 400 << QStringLiteral("1s") << TokenStatus::Expiring << true
                                   << QStringLiteral("refresh lead");
    QTest::newRow("expiring now") << Now << QStringLiteral("expired") << TokenStatus::Expired << true
                                  << QStringLiteral("expired at");
    QTest::newRow("expired a while ago") << Now - 90 * 1000 << QStringLiteral("expired")
                                         << TokenStatus::Expired << true << QStringLiteral("1m 30s ago");
}

void tst_SessionTableModel::countdown()
{
    QFETCH(qint64, expiresMs);
    QFETCH(QString, text);
    QFETCH(TokenStatus, status);
    QFETCH(bool, coloured);
    QFETCH(QString, tooltipPart);
    Fixture f;
    SessionInfo info = session(QStringLiteral("aaaa"), QStringLiteral("alice"));
    info.tokenExpiresMs = expiresMs;
    f.model.upsert(info);
    const QModelIndex cell = f.model.index(0, SessionTableModel::TokenColumn);
    QCOMPARE(cell.data().toString(), text);
    QCOMPARE(TokenStatus(cell.data(SessionTableModel::TokenStatusRole).toInt()), status);
    QCOMPARE(cell.data(Qt::BackgroundRole).isValid(), coloured);
    const QString tooltip = cell.data(Qt::ToolTipRole).toString();
    QVERIFY2(tooltip.contains(tooltipPart), qPrintable(tooltip));
}

void tst_SessionTableModel::countdownTicks()
{
    Fixture f;
    SessionInfo info = session(QStringLiteral("aaaa"), QStringLiteral("alice"));
    info.tokenExpiresMs = Now + 302 * 1000;
    f.model.upsert(info);
    QSignalSpy changed(&f.model, &QAbstractItemModel::dataChanged);
    QCOMPARE(f.tokenText(QStringLiteral("aaaa")), QStringLiteral("5m 02s"));
    f.model.setNow(Now + 1000);
    QCOMPARE(changed.count(), 1);
    const QModelIndex from = changed.at(0).at(0).toModelIndex();
    const QModelIndex to = changed.at(0).at(1).toModelIndex();
    QVERIFY(from.column() <= SessionTableModel::TokenColumn && to.column() >= SessionTableModel::TokenColumn);
    QCOMPARE(f.tokenText(QStringLiteral("aaaa")), QStringLiteral("5m 01s"));
    f.model.setNow(Now + 3000); // crosses into the refresh lead
    QCOMPARE(f.tokenText(QStringLiteral("aaaa")), QStringLiteral("4m 59s"));
    QCOMPARE(TokenStatus(f.model.index(0, SessionTableModel::TokenColumn)
                             .data(SessionTableModel::TokenStatusRole)
                             .toInt()),
             TokenStatus::Expiring);
    f.model.setNow(Now + 303 * 1000);
    QCOMPARE(f.tokenText(QStringLiteral("aaaa")), QStringLiteral("expired"));
}

void tst_SessionTableModel::refreshLeadFromInfo()
{
    Fixture f;
    SessionInfo info = session(QStringLiteral("aaaa"), QStringLiteral("alice"));
    info.tokenExpiresMs = Now + 200 * 1000;
    f.model.upsert(info);
    QCOMPARE(TokenStatus(f.model.index(0, SessionTableModel::TokenColumn)
                             .data(SessionTableModel::TokenStatusRole)
                             .toInt()),
             TokenStatus::Expiring);
    f.model.setRefreshLeadSeconds(120);
    QCOMPARE(TokenStatus(f.model.index(0, SessionTableModel::TokenColumn)
                             .data(SessionTableModel::TokenStatusRole)
                             .toInt()),
             TokenStatus::Valid);
}

void tst_SessionTableModel::durationText_data()
{
    QTest::addColumn<qint64>("seconds");
    QTest::addColumn<QString>("text");
    QTest::newRow("zero") << qint64(0) << QStringLiteral("0s");
    QTest::newRow("negative is zero") << qint64(-5) << QStringLiteral("0s");
    QTest::newRow("seconds") << qint64(59) << QStringLiteral("59s");
    QTest::newRow("minutes") << qint64(61) << QStringLiteral("1m 01s");
    QTest::newRow("hours") << qint64(3 * 3600 + 5 * 60 + 7) << QStringLiteral("3h 05m");
    QTest::newRow("days") << qint64(2 * 86400 + 4 * 3600) << QStringLiteral("2d 04h");
}

void tst_SessionTableModel::durationText()
{
    QFETCH(qint64, seconds);
    QFETCH(QString, text);
    QCOMPARE(SessionTableModel::durationText(seconds), text);
}

void tst_SessionTableModel::noTokenSortsLast()
{
    Fixture f;
    SessionInfo none = session(QStringLiteral("none"), QStringLiteral("a"));
    SessionInfo soon = session(QStringLiteral("soon"), QStringLiteral("b"));
    soon.tokenExpiresMs = Now + 10 * 1000;
    SessionInfo later = session(QStringLiteral("later"), QStringLiteral("c"));
    later.tokenExpiresMs = Now + 1000 * 1000;
    f.model.setSessions({none, later, soon});
    f.view.sortByColumn(SessionTableModel::TokenColumn, Qt::AscendingOrder);
    QCOMPARE(f.proxy.index(0, 0).data(SessionTableModel::SessionIdRole).toString(), QStringLiteral("soon"));
    QCOMPARE(f.proxy.index(1, 0).data(SessionTableModel::SessionIdRole).toString(), QStringLiteral("later"));
    QCOMPARE(f.proxy.index(2, 0).data(SessionTableModel::SessionIdRole).toString(), QStringLiteral("none"));
}

void tst_SessionTableModel::shortIdAndTooltip()
{
    Fixture f;
    const QString id = QStringLiteral("0123456789abcdef0123456789abcdef0123456789abcdef");
    f.model.upsert(session(id, QStringLiteral("alice")));
    const QModelIndex cell = f.model.index(0, SessionTableModel::IdColumn);
    QCOMPARE(cell.data().toString(), QStringLiteral("0123456789ab") + QChar(0x2026));
    QCOMPARE(cell.data(Qt::ToolTipRole).toString(), id);
    QCOMPARE(cell.data(SessionTableModel::SessionIdRole).toString(), id);
    // Issue 14: after a node id, the short form is the random part's start.
    const QString prefixed = QStringLiteral("broker-a-fedcba9876543210") + id.left(32);
    f.model.upsert(session(prefixed, QStringLiteral("carol")));
    QCOMPARE(f.model.index(f.model.rowCount() - 1, SessionTableModel::IdColumn).data().toString(),
             QStringLiteral("fedcba987654") + QChar(0x2026));
    QCOMPARE(
        f.model.index(f.model.rowCount() - 1, SessionTableModel::IdColumn).data(Qt::ToolTipRole).toString(),
        prefixed);
    f.model.remove(prefixed);
    SessionInfo noChild = session(QStringLiteral("x"), QStringLiteral("bob"));
    noChild.childPid = 0;
    noChild.client.clear();
    f.model.upsert(noChild);
    QCOMPARE(f.model.index(1, SessionTableModel::PidColumn).data().toString(), QStringLiteral("\u2014"));
    QCOMPARE(f.model.index(1, SessionTableModel::ClientColumn).data().toString(),
             QStringLiteral("(not yet known)"));
}

// issue 13: a user child has no client of its own; the console says what it
// is and how many requests it runs.
void tst_SessionTableModel::userChildShowsRequestsInFlight()
{
    Fixture f;
    SessionInfo child = session(QStringLiteral("u"), QStringLiteral("alice"));
    child.kind = QStringLiteral("user child");
    child.pendingRequests = 4;
    f.model.upsert(child);
    QCOMPARE(f.model.index(0, SessionTableModel::ClientColumn).data().toString(),
             QStringLiteral("user child (4 in flight)"));
}

void tst_SessionTableModel::norwegianBokmal()
{
    QTranslator translator;
    QVERIFY(translator.load(QStringLiteral(":/i18n/fmb_console_nb.qm")));
    QVERIFY(QCoreApplication::installTranslator(&translator));
    Fixture f;
    SessionInfo info = session(QStringLiteral("aaaa"), QStringLiteral("alice"));
    info.tokenExpiresMs = Now + 3 * 60 * 1000 + 5000;
    f.model.upsert(info);
    f.model.upsert(session(QStringLiteral("bbbb"), QStringLiteral("bob")));
    const QString header = f.model.headerData(SessionTableModel::IdColumn, Qt::Horizontal).toString();
    const QString countdown = f.tokenText(QStringLiteral("aaaa"));
    const QString none = f.tokenText(QStringLiteral("bbbb"));
    QCoreApplication::removeTranslator(&translator);
    QCOMPARE(header, QStringLiteral("Økt"));
    QCOMPARE(countdown, QStringLiteral("3 min 05 s"));
    QCOMPARE(none, QStringLiteral("ingen token"));
}

QTEST_MAIN(tst_SessionTableModel)
#include "tst_sessiontablemodel.moc"

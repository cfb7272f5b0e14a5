#include "ConsoleWindow.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDateTime>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

#include "ConnectDialog.h"
#include "LiveChart.h"
#include "RecentTargets.h"
#include "SessionTableModel.h"
#include "UserTableModel.h"
#include "admin/AdminClient.h"

namespace fmb {
namespace {

constexpr int TickMs = 1000;
constexpr int InfoRefreshMs = 2000; // also the charts' resolution
constexpr int MaxBackoffSeconds = 30;
constexpr int MaxNamedInConfirmation = 10;

// Matches the filter against every column's text and the full session id.
class SessionFilter final : public QSortFilterProxyModel {
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override
    {
        const QString needle = filterRegularExpression().pattern();
        if (needle.isEmpty())
            return true;
        const QAbstractItemModel *model = sourceModel();
        for (int column = 0; column < model->columnCount(); ++column) {
            const QModelIndex index = model->index(sourceRow, column, sourceParent);
            if (index.data(Qt::DisplayRole).toString().contains(needle, Qt::CaseInsensitive))
                return true;
        }
        return model->index(sourceRow, 0, sourceParent)
            .data(SessionTableModel::SessionIdRole)
            .toString()
            .contains(needle, Qt::CaseInsensitive);
    }
};

bool askWithMessageBox(QWidget *parent, const QString &title, const QString &text)
{
    QMessageBox box(QMessageBox::Warning, title, text, QMessageBox::Yes | QMessageBox::Cancel, parent);
    const bool revoke = title == ConsoleWindow::tr("Revoke Access");
    box.button(QMessageBox::Yes)
        ->setText(revoke ? ConsoleWindow::tr("&Revoke") : ConsoleWindow::tr("&Evict"));
    box.setDefaultButton(QMessageBox::Cancel);
    box.setEscapeButton(QMessageBox::Cancel);
    return box.exec() == QMessageBox::Yes;
}

QIcon themed(const char *name, QStyle::StandardPixmap fallback)
{
    return QIcon::fromTheme(QLatin1String(name), QApplication::style()->standardIcon(fallback));
}

} // namespace

ConsoleWindow::ConsoleWindow(QWidget *parent)
    : QMainWindow(parent)
    , m_client(new AdminClient(this))
    , m_model(new SessionTableModel(this))
    , m_proxy(new SessionFilter(this))
    , m_tick(new QTimer(this))
    , m_reconnect(new QTimer(this))
    , m_infoRefresh(new QTimer(this))
    , m_confirm(askWithMessageBox)
{
    setWindowTitle(tr("Forgejo MCP Broker Console"));
    buildActions();
    buildUi();

    connect(m_client, &AdminClient::connected, this, &ConsoleWindow::onConnected);
    connect(m_client, &AdminClient::connectionFailed, this,
            [this](const QString &message) { onConnectionLost(message, false); });
    connect(m_client, &AdminClient::disconnected, this,
            [this](const QString &reason) { onConnectionLost(reason, true); });
    connect(m_client, &AdminClient::sessionEvent, this, &ConsoleWindow::onEvent);

    m_tick->setInterval(TickMs);
    connect(m_tick, &QTimer::timeout, this, &ConsoleWindow::tick);
    m_tick->start();
    m_reconnect->setSingleShot(true);
    connect(m_reconnect, &QTimer::timeout, this, &ConsoleWindow::startConnect);
    m_infoRefresh->setInterval(InfoRefreshMs);
    connect(m_infoRefresh, &QTimer::timeout, this, &ConsoleWindow::requestInfo);

    QSettings settings;
    if (!restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray()))
        resize(1120, 560);
    m_view->horizontalHeader()->restoreState(settings.value(QStringLiteral("window/header")).toByteArray());
    updateActions();
    updateStatus();
}

ConsoleWindow::~ConsoleWindow() = default;

void ConsoleWindow::buildActions()
{
    m_connectAction =
        new QAction(themed("network-connect", QStyle::SP_DriveNetIcon), tr("&Connect to…"), this);
    m_connectAction->setShortcut(QKeySequence::Open);
    m_connectAction->setToolTip(
        tr("Connect to a broker on this computer or through SSH (%1)")
            .arg(QKeySequence(QKeySequence::Open).toString(QKeySequence::NativeText)));
    connect(m_connectAction, &QAction::triggered, this, &ConsoleWindow::showConnectDialog);

    m_reconnectAction = new QAction(themed("view-refresh", QStyle::SP_BrowserReload), tr("&Reconnect"), this);
    m_reconnectAction->setShortcut(QKeySequence::Refresh);
    m_reconnectAction->setToolTip(tr("Connect again now and reload the sessions (F5)"));
    connect(m_reconnectAction, &QAction::triggered, this, &ConsoleWindow::reconnectNow);

    m_evictAction = new QAction(themed("edit-delete", QStyle::SP_TrashIcon), tr("&Evict"), this);
    m_evictAction->setShortcut(QKeySequence::Delete);
    m_evictAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_evictAction->setToolTip(tr("End the selected sessions and stop their MCP servers (Delete)"));
    connect(m_evictAction, &QAction::triggered, this, &ConsoleWindow::evictSelected);

    m_evictUserAction = new QAction(tr("Evict All Sessions of This &User"), this);
    m_evictUserAction->setShortcut(QKeySequence(Qt::SHIFT | Qt::Key_Delete));
    m_evictUserAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(m_evictUserAction, &QAction::triggered, this, &ConsoleWindow::evictSelectedUser);

    m_revokeAction = new QAction(tr("&Revoke Access…"), this);
    m_revokeAction->setToolTip(tr("End the user's sessions, revoke their sign-ins and delete their stored "
                                  "Forgejo tokens (OAuth mode)"));
    connect(m_revokeAction, &QAction::triggered, this, &ConsoleWindow::revokeSelectedUser);

    m_copyAction = new QAction(themed("edit-copy", QStyle::SP_FileIcon), tr("&Copy Session IDs"), this);
    m_copyAction->setShortcut(QKeySequence::Copy);
    m_copyAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(m_copyAction, &QAction::triggered, this, &ConsoleWindow::copySelectedIds);

    m_findAction = new QAction(tr("&Filter"), this);
    m_findAction->setShortcut(QKeySequence::Find);
    connect(m_findAction, &QAction::triggered, this, [this] {
        m_filter->setFocus(Qt::ShortcutFocusReason);
        m_filter->selectAll();
    });

    m_quitAction = new QAction(themed("application-exit", QStyle::SP_DialogCloseButton), tr("&Quit"), this);
    m_quitAction->setShortcut(QKeySequence::Quit);
    m_quitAction->setMenuRole(QAction::QuitRole);
    connect(m_quitAction, &QAction::triggered, this, &QWidget::close);

    m_aboutAction = new QAction(tr("&About"), this);
    connect(m_aboutAction, &QAction::triggered, this, [this] {
        QMessageBox::about(
            this, tr("About the Console"),
            tr("<h3>Forgejo MCP Broker Console %1</h3>"
               "<p>Lists the MCP sessions of a forgejo-mcp-brokerd, shows when their upstream "
               "tokens expire, and evicts sessions, over the broker's admin socket (locally or "
               "through SSH).</p>")
                .arg(QStringLiteral(FMB_VERSION)));
    });
}

void ConsoleWindow::buildUi()
{
    QMenu *fileMenu = menuBar()->addMenu(tr("&Broker"));
    fileMenu->addAction(m_connectAction);
    fileMenu->addAction(m_reconnectAction);
    fileMenu->addSeparator();
    fileMenu->addAction(m_quitAction);
    QMenu *sessionMenu = menuBar()->addMenu(tr("&Session"));
    sessionMenu->addAction(m_evictAction);
    sessionMenu->addAction(m_evictUserAction);
    sessionMenu->addAction(m_revokeAction);
    sessionMenu->addSeparator();
    sessionMenu->addAction(m_copyAction);
    sessionMenu->addAction(m_findAction);
    QMenu *helpMenu = menuBar()->addMenu(tr("&Help"));
    helpMenu->addAction(m_aboutAction);

    QToolBar *toolBar = addToolBar(tr("Main"));
    toolBar->setObjectName(QStringLiteral("mainToolBar"));
    toolBar->setMovable(false);
    toolBar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toolBar->addAction(m_connectAction);
    toolBar->addAction(m_reconnectAction);
    toolBar->addSeparator();
    toolBar->addAction(m_evictAction);

    m_filter = new QLineEdit(this);
    m_filter->setObjectName(QStringLiteral("filter"));
    m_filter->setPlaceholderText(tr("Filter by id, user, client, state… (Ctrl+F)"));
    m_filter->setClearButtonEnabled(true);
    m_filter->setMinimumWidth(320);
    m_filter->setMaximumWidth(420);
    m_filter->setAccessibleName(tr("Filter sessions"));
    auto *filterLabel = new QLabel(tr("&Filter:"), this);
    filterLabel->setBuddy(m_filter);

    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(SessionTableModel::SortRole);
    m_proxy->setDynamicSortFilter(true);
    connect(m_filter, &QLineEdit::textChanged, m_proxy, [this](const QString &text) {
        // SessionFilter reads the pattern as a plain substring.
        m_proxy->setFilterRegularExpression(text.trimmed());
        updateStatus();
    });

    m_view = newTable(QStringLiteral("sessions"), tr("Sessions"), m_proxy,
                      QAbstractItemView::ExtendedSelection, SessionTableModel::CreatedColumn);
    m_view->addAction(m_evictAction);
    m_view->addAction(m_evictUserAction);
    m_view->addAction(m_revokeAction);
    m_view->addAction(m_copyAction);
    QHeaderView *header = m_view->horizontalHeader();
    const QList<QPair<int, int>> widths = {
        {SessionTableModel::IdColumn, 130},         {SessionTableModel::UserColumn, 110},
        {SessionTableModel::ClientColumn, 150},     {SessionTableModel::CreatedColumn, 150},
        {SessionTableModel::LastActiveColumn, 100}, {SessionTableModel::IdleColumn, 80},
        {SessionTableModel::TokenColumn, 120},      {SessionTableModel::PidColumn, 80},
    };
    for (const auto &[column, width] : widths)
        header->resizeSection(column, width);
    connect(m_view, &QWidget::customContextMenuRequested, this, &ConsoleWindow::showContextMenu);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &ConsoleWindow::updateActions);
    connect(m_view, &QAbstractItemView::doubleClicked, this, [this] { copySelectedIds(); });

    m_users = new UserTableModel(m_model, this);
    m_userProxy = new QSortFilterProxyModel(this);
    m_userProxy->setSourceModel(m_users);
    m_userProxy->setSortRole(UserTableModel::SortRole);
    m_userProxy->setDynamicSortFilter(true);
    m_userView = newTable(QStringLiteral("users"), tr("Users"), m_userProxy,
                          QAbstractItemView::SingleSelection, UserTableModel::UserColumn);
    m_userView->horizontalHeader()->resizeSection(UserTableModel::UserColumn, 160);
    m_userView->horizontalHeader()->resizeSection(UserTableModel::TokenColumn, 120);
    m_userView->addAction(m_evictUserAction);
    m_userView->addAction(m_revokeAction);
    connect(m_userView, &QWidget::customContextMenuRequested, this, &ConsoleWindow::showUserContextMenu);
    connect(m_userView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &ConsoleWindow::updateActions);
    m_tabs = new QTabWidget(this);
    m_tabs->setDocumentMode(true);
    m_tabs->addTab(m_view, tr("Sessions"));
    m_tabs->addTab(m_userView, tr("Users"));
    connect(m_tabs, &QTabWidget::currentChanged, this, &ConsoleWindow::updateActions);

    auto *filterRow = new QHBoxLayout;
    filterRow->addWidget(filterLabel);
    filterRow->addWidget(m_filter);
    filterRow->addStretch(1);
    using Series = ActivityHistory::Series;
    const std::array<std::pair<Series, QString>, std::size_t(Series::Count)> charts = {{
        {Series::Sessions, tr("Sessions open")},
        {Series::RequestsPerSecond, tr("Requests per second")},
        {Series::RefreshesPerMinute, tr("Token refreshes per minute")},
        {Series::ErrorsPerMinute, tr("Errors per minute")},
    }};
    auto *chartRow = new QHBoxLayout;
    for (const auto &[series, title] : charts) {
        auto *chart = new LiveChart(title, this);
        chart->setDecimals(series == Series::Sessions ? 0 : 1);
        chartRow->addWidget(chart);
        m_charts[std::size_t(series)] = chart;
    }
    m_charts[std::size_t(Series::ErrorsPerMinute)]->setExplanation(
        tr("HTTP responses with a 5xx status and failed token refreshes"));

    auto *central = new QWidget(this);
    auto *layout = new QVBoxLayout(central);
    layout->setContentsMargins(8, 8, 8, 4);
    layout->addLayout(chartRow);
    layout->addLayout(filterRow);
    layout->addWidget(m_tabs, 1);
    setCentralWidget(central);
    setTabOrder(m_filter, m_view);

    m_connectionLabel = new QLabel(this);
    m_connectionLabel->setObjectName(QStringLiteral("connectionState"));
    m_connectionLabel->setTextFormat(Qt::PlainText);
    m_infoLabel = new QLabel(this);
    m_infoLabel->setObjectName(QStringLiteral("daemonInfo"));
    m_infoLabel->setTextFormat(Qt::PlainText);
    statusBar()->addWidget(m_connectionLabel, 1);
    statusBar()->addPermanentWidget(m_infoLabel);
}

QTableView *ConsoleWindow::newTable(const QString &objectName, const QString &accessibleName,
                                    QAbstractItemModel *model, QAbstractItemView::SelectionMode selection,
                                    int sortColumn)
{
    auto *view = new QTableView(this);
    view->setObjectName(objectName);
    view->setModel(model);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(selection);
    view->setSortingEnabled(true);
    view->sortByColumn(sortColumn, Qt::AscendingOrder);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->setContextMenuPolicy(Qt::CustomContextMenu);
    view->verticalHeader()->hide();
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 10);
    view->horizontalHeader()->setHighlightSections(false);
    view->horizontalHeader()->setStretchLastSection(true);
    view->setAccessibleName(accessibleName);
    return view;
}

void ConsoleWindow::connectTo(const AdminTarget &target)
{
    m_target = target;
    m_haveTarget = true;
    m_attempt = 0;
    m_haveInfo = false;
    m_model->clear();
    m_history.clear();
    updateCharts();
    setWindowTitle(tr("%1 — Forgejo MCP Broker Console").arg(target.displayName()));
    startConnect();
}

void ConsoleWindow::reconnectNow()
{
    if (!m_haveTarget)
        return showConnectDialog();
    m_attempt = 0;
    startConnect();
}

void ConsoleWindow::startConnect()
{
    m_reconnect->stop();
    m_retryAtMs = 0;
    m_client->connectTo(m_target);
    updateStatus();
    updateActions();
}

void ConsoleWindow::onConnected()
{
    m_attempt = 0;
    m_lastProblem.clear();
    RecentTargets::remember(m_target);
    m_client->subscribe([this](const AdminReply &reply, const QList<SessionInfo> &sessions) {
        if (!reply.ok) {
            m_lastProblem = reply.error.message;
            updateStatus();
            return;
        }
        m_model->setNow(QDateTime::currentMSecsSinceEpoch());
        m_model->setSessions(sessions);
        m_view->setEnabled(true);
        updateActions();
        updateStatus();
        Q_EMIT sessionsLoaded();
    });
    requestInfo();
    m_infoRefresh->start();
    updateStatus();
    updateActions();
    Q_EMIT connectionChanged(true);
}

void ConsoleWindow::onConnectionLost(const QString &reason, bool wasConnected)
{
    m_lastProblem = reason;
    m_infoRefresh->stop();
    m_history.breakRates();
    // Keep the rows (greyed) so the selection survives a reconnect.
    m_view->setEnabled(false);
    const int delay = std::min(MaxBackoffSeconds, 1 << std::min(m_attempt, 5));
    ++m_attempt;
    m_retryAtMs = QDateTime::currentMSecsSinceEpoch() + delay * 1000;
    m_reconnect->start(delay * 1000);
    updateStatus();
    updateActions();
    if (wasConnected)
        Q_EMIT connectionChanged(false);
}

void ConsoleWindow::onEvent(const AdminEvent &event)
{
    const std::optional<SessionInfo> &info = event.session;
    if (!info)
        return;
    if (event.name == AdminEventName::SessionEnded) {
        m_model->remove(info->id);
        statusBar()->showMessage(tr("Session %1 of %2 ended: %3")
                                     .arg(SessionTableModel::shortId(info->id), info->user, event.reason),
                                 5000);
    } else {
        m_model->upsert(*info);
        if (event.name == AdminEventName::SessionRotated)
            statusBar()->showMessage(tr("Session %1 runs a new MCP server (pid %2) after a token refresh")
                                         .arg(SessionTableModel::shortId(info->id))
                                         .arg(info->childPid),
                                     5000);
    }
    updateActions();
    updateStatus();
}

void ConsoleWindow::requestInfo()
{
    m_client->info([this](const AdminReply &reply, const DaemonInfo &info) {
        if (!reply.ok)
            return;
        m_info = info;
        m_haveInfo = true;
        m_model->setRefreshLeadSeconds(m_info.refreshLeadSeconds);
        m_history.add(QDateTime::currentMSecsSinceEpoch(), info.sessions, info.counters);
        updateCharts();
        updateStatus();
        Q_EMIT activitySampled();
    });
}

void ConsoleWindow::tick()
{
    m_model->setNow(QDateTime::currentMSecsSinceEpoch());
    updateCharts();
    updateStatus();
}

void ConsoleWindow::updateCharts()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    for (int series = 0; series < int(ActivityHistory::Series::Count); ++series)
        m_charts[std::size_t(series)]->setPoints(m_history.points(ActivityHistory::Series(series)), now,
                                                 m_history.spanMs());
}

bool ConsoleWindow::isConnected() const
{
    return m_client->state() == AdminClient::State::Connected;
}

QString ConsoleWindow::connectionText() const
{
    if (!m_haveTarget)
        return tr("Not connected. Use Broker › Connect to… (Ctrl+O).");
    const QString where = m_target.displayName();
    switch (m_client->state()) {
    case AdminClient::State::Connected:
        return tr("Connected to %1").arg(where);
    case AdminClient::State::Connecting:
        return m_target.kind == AdminTarget::Kind::Ssh ? tr("Connecting to %1 through SSH…").arg(where)
                                                       : tr("Connecting to %1…").arg(where);
    case AdminClient::State::Disconnected:
        break;
    }
    const qint64 seconds =
        m_retryAtMs > 0
            ? std::max<qint64>(0, (m_retryAtMs - QDateTime::currentMSecsSinceEpoch() + 999) / 1000)
            : 0;
    return tr("Disconnected: %1 — retrying in %2 (F5 to retry now)")
        .arg(m_lastProblem, SessionTableModel::durationText(seconds));
}

QString ConsoleWindow::infoText() const
{
    const int shown = m_proxy->rowCount();
    const int total = m_model->rowCount();
    const QString count = shown == total ? tr("%n session(s)", nullptr, total)
                                         : tr("%1 of %n session(s) shown", nullptr, total).arg(shown);
    if (!m_haveInfo || !isConnected())
        return count;
    const qint64 uptime = m_info.startedMs > 0
                              ? (QDateTime::currentMSecsSinceEpoch() - m_info.startedMs) / 1000
                              : m_info.uptimeSeconds;
    const QString auth = m_info.authMode == QLatin1String("none") ? tr("local mode (no OAuth)") : tr("OAuth");
    return tr("%1  ·  broker %2 at %3  ·  %4  ·  up %5")
        .arg(count, m_info.version, m_info.listenUrl, auth, SessionTableModel::durationText(uptime));
}

void ConsoleWindow::updateStatus()
{
    m_connectionLabel->setText(connectionText());
    m_infoLabel->setText(infoText());
}

void ConsoleWindow::updateActions()
{
    const bool connected = isConnected();
    const bool selected = !usersTabShown() && !selectedSessionIds().isEmpty();
    const bool userSelected = selectedUser().has_value();
    m_evictAction->setEnabled(connected && selected);
    m_evictUserAction->setEnabled(userSelected);
    m_revokeAction->setEnabled(userSelected);
    m_copyAction->setEnabled(selected);
    m_reconnectAction->setEnabled(m_haveTarget);
}

QStringList ConsoleWindow::selectedSessionIds() const
{
    QModelIndexList rows = m_view->selectionModel()->selectedRows();
    std::sort(rows.begin(), rows.end(),
              [](const QModelIndex &a, const QModelIndex &b) { return a.row() < b.row(); });
    QStringList ids;
    for (const QModelIndex &index : std::as_const(rows))
        ids.append(index.data(SessionTableModel::SessionIdRole).toString());
    return ids;
}

void ConsoleWindow::selectSessions(const QStringList &ids)
{
    QItemSelection selection;
    for (const QString &id : ids) {
        const int row = m_model->rowOf(id);
        if (row < 0)
            continue;
        const QModelIndex index = m_proxy->mapFromSource(m_model->index(row, 0));
        if (index.isValid())
            selection.select(index, index);
    }
    m_view->selectionModel()->select(selection,
                                     QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    if (!selection.isEmpty())
        m_view->selectionModel()->setCurrentIndex(selection.indexes().constFirst(),
                                                  QItemSelectionModel::NoUpdate);
}

QString ConsoleWindow::evictConfirmationText(const QStringList &ids) const
{
    QStringList lines;
    for (const QString &id : ids.mid(0, MaxNamedInConfirmation)) {
        const SessionInfo info = m_model->sessionAt(m_model->rowOf(id));
        lines.append(info.client.isEmpty()
                         ? tr("• %1 — %2").arg(SessionTableModel::shortId(id), info.user)
                         : tr("• %1 — %2 (%3)").arg(SessionTableModel::shortId(id), info.user, info.client));
    }
    if (ids.size() > MaxNamedInConfirmation)
        lines.append(tr("… and %n more", nullptr, int(ids.size() - MaxNamedInConfirmation)));
    return tr("Evict %n session(s)?", nullptr, int(ids.size())) + QLatin1String("\n\n") +
           lines.join(QLatin1Char('\n')) + QLatin1String("\n\n") +
           tr("Their MCP servers are stopped; the clients have to start new sessions.");
}

void ConsoleWindow::evictSelected()
{
    const QStringList ids = selectedSessionIds();
    if (ids.isEmpty() || !isConnected())
        return;
    if (!m_confirm(this, tr("Evict Sessions"), evictConfirmationText(ids)))
        return;
    evict(EvictSelector::ofSessions(ids), int(ids.size()));
}

bool ConsoleWindow::usersTabShown() const
{
    return m_tabs && m_tabs->currentWidget() == m_userView;
}

void ConsoleWindow::selectUser(const QString &user)
{
    const int row = m_users->rowOf(user);
    if (row < 0)
        return m_userView->clearSelection();
    const QModelIndex index = m_userProxy->mapFromSource(m_users->index(row, 0));
    m_userView->selectionModel()->select(index,
                                         QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

std::optional<std::pair<QString, int>> ConsoleWindow::selectedUser() const
{
    if (usersTabShown()) {
        const QModelIndexList rows = m_userView->selectionModel()->selectedRows();
        if (rows.isEmpty() || !isConnected())
            return std::nullopt;
        const UserTableModel::User user = m_users->userAt(m_userProxy->mapToSource(rows.constFirst()).row());
        return std::pair{user.name, user.sessions + user.userChildren};
    }
    const QStringList ids = selectedSessionIds();
    if (ids.isEmpty() || !isConnected())
        return std::nullopt;
    const QString user = m_model->sessionAt(m_model->rowOf(ids.constFirst())).user;
    int count = 0;
    for (const SessionInfo &info : m_model->sessions())
        count += info.user == user ? 1 : 0;
    return std::pair{user, count};
}

void ConsoleWindow::evictSelectedUser()
{
    const auto selected = selectedUser();
    if (!selected)
        return;
    const auto &[user, count] = *selected;
    if (!m_confirm(this, tr("Evict Sessions"),
                   tr("Evict all %n session(s) of %1?", nullptr, count).arg(user) + QLatin1String("\n\n") +
                       tr("Their MCP servers are stopped; the clients have to start new sessions.")))
        return;
    evict(EvictSelector::ofUser(user), count);
}

void ConsoleWindow::revokeSelectedUser()
{
    const auto selected = selectedUser();
    if (!selected)
        return;
    const auto &[user, count] = *selected;
    if (!m_confirm(this, tr("Revoke Access"),
                   tr("Revoke all access of %1?").arg(user) + QLatin1String("\n\n") +
                       tr("This ends %n open session(s) of %1 and stops their MCP servers, revokes every "
                          "grant and broker token of %1 and deletes the Forgejo tokens the broker keeps "
                          "for %1. %1 has to sign in again.",
                          nullptr, count)
                           .arg(user)))
        return;
    statusBar()->showMessage(tr("Revoking the access of %1…").arg(user));
    m_client->revoke(user, [this](const AdminReply &reply, const RevokeOutcome &outcome) {
        if (!reply.ok) {
            statusBar()->showMessage(tr("Revoking failed: %1").arg(reply.error.message), 10000);
            return;
        }
        statusBar()->showMessage(tr("Revoked %1: %n session(s) ended, %2 grant(s) and %3 token(s) revoked.",
                                    nullptr, outcome.sessions)
                                     .arg(outcome.user)
                                     .arg(outcome.grants)
                                     .arg(outcome.brokerTokens),
                                 10000);
    });
}

void ConsoleWindow::evict(const EvictSelector &selector, int count)
{
    statusBar()->showMessage(tr("Evicting %n session(s)…", nullptr, count));
    m_client->evict(selector, [this](const AdminReply &reply, const EvictOutcome &outcome) {
        if (!reply.ok) {
            statusBar()->showMessage(tr("Evicting failed: %1").arg(reply.error.message), 10000);
            return;
        }
        QString message = tr("Evicted %n session(s).", nullptr, int(outcome.evicted.size()));
        if (!outcome.notFound.isEmpty() || !outcome.ambiguous.isEmpty())
            message += QLatin1Char(' ') + tr("%n had already ended.", nullptr,
                                             int(outcome.notFound.size() + outcome.ambiguous.size()));
        statusBar()->showMessage(message, 5000);
    });
}

void ConsoleWindow::copySelectedIds()
{
    const QStringList ids = selectedSessionIds();
    if (ids.isEmpty())
        return;
    QGuiApplication::clipboard()->setText(ids.join(QLatin1Char('\n')));
    statusBar()->showMessage(tr("Copied %n session id(s).", nullptr, int(ids.size())), 3000);
}

void ConsoleWindow::showContextMenu(const QPoint &position)
{
    const QModelIndex index = m_view->indexAt(position);
    if (index.isValid() && !m_view->selectionModel()->isRowSelected(index.row(), index.parent()))
        m_view->selectionModel()->select(index,
                                         QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    updateActions();
    QMenu menu(this);
    menu.addAction(m_evictAction);
    const QStringList ids = selectedSessionIds();
    if (!ids.isEmpty()) {
        const QString user = m_model->sessionAt(m_model->rowOf(ids.constFirst())).user;
        m_evictUserAction->setText(tr("Evict All Sessions of %1").arg(user));
        menu.addAction(m_evictUserAction);
        m_revokeAction->setText(tr("Revoke Access of %1…").arg(user));
        menu.addAction(m_revokeAction);
    }
    menu.addSeparator();
    menu.addAction(m_copyAction);
    menu.exec(m_view->viewport()->mapToGlobal(position));
    m_evictUserAction->setText(tr("Evict All Sessions of This &User"));
    m_revokeAction->setText(tr("&Revoke Access…"));
}

void ConsoleWindow::showUserContextMenu(const QPoint &position)
{
    const QModelIndex index = m_userView->indexAt(position);
    if (index.isValid())
        m_userView->selectionModel()->select(index,
                                             QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    updateActions();
    const auto selected = selectedUser();
    if (!selected)
        return;
    QMenu menu(this);
    m_evictUserAction->setText(tr("Evict All Sessions of %1").arg(selected->first));
    menu.addAction(m_evictUserAction);
    m_revokeAction->setText(tr("Revoke Access of %1…").arg(selected->first));
    menu.addAction(m_revokeAction);
    menu.exec(m_userView->viewport()->mapToGlobal(position));
    m_evictUserAction->setText(tr("Evict All Sessions of This &User"));
    m_revokeAction->setText(tr("&Revoke Access…"));
}

void ConsoleWindow::showConnectDialog()
{
    ConnectDialog dialog(m_haveTarget ? m_target : AdminTarget::local(QString()), this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    connectTo(dialog.target());
}

void ConsoleWindow::closeEvent(QCloseEvent *event)
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/header"), m_view->horizontalHeader()->saveState());
    QMainWindow::closeEvent(event);
}

} // namespace fmb

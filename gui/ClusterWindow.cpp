#include "ClusterWindow.h"

#include <memory>
#include <optional>

#include <QAction>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QMessageBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolBar>

#include "BrokerTableModel.h"
#include "FleetSessionModel.h"
#include "SessionTableModel.h"
#include "admin/AdminFleet.h"

namespace fmb {
namespace {

QTableView *newTable(QAbstractItemModel *model, const QString &objectName, QWidget *parent)
{
    auto *view = new QTableView(parent);
    view->setObjectName(objectName);
    view->setModel(model);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->verticalHeader()->hide();
    view->horizontalHeader()->setStretchLastSection(true);
    return view;
}

} // namespace

ClusterWindow::ClusterWindow(QWidget *parent)
    : QMainWindow(parent)
    , m_fleet(new AdminFleet(this))
    , m_sessions(new FleetSessionModel(this))
    , m_brokers(new BrokerTableModel(this))
    , m_timer(new QTimer(this))
    , m_confirm([](QWidget *owner, const QString &title, const QString &text) {
        return QMessageBox::question(owner, title, text) == QMessageBox::Yes;
    })
{
    setWindowTitle(tr("Forgejo MCP Broker Console: cluster"));
    m_tabs = new QTabWidget(this);
    m_sessionView = newTable(m_sessions, QStringLiteral("clusterSessions"), m_tabs);
    m_sessionView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_brokerView = newTable(m_brokers, QStringLiteral("clusterBrokers"), m_tabs);
    m_brokerView->setSelectionMode(QAbstractItemView::NoSelection);
    m_tabs->addTab(m_sessionView, tr("Sessions"));
    m_tabs->addTab(m_brokerView, tr("Brokers"));
    setCentralWidget(m_tabs);

    m_evictAction = new QAction(tr("&Evict"), this);
    m_evictAction->setShortcut(QKeySequence::Delete);
    m_evictAction->setToolTip(tr("End the selected sessions on the brokers that serve them"));
    connect(m_evictAction, &QAction::triggered, this, &ClusterWindow::evictSelected);
    m_refreshAction = new QAction(tr("&Refresh"), this);
    m_refreshAction->setShortcut(QKeySequence::Refresh);
    connect(m_refreshAction, &QAction::triggered, this, &ClusterWindow::refresh);
    QToolBar *toolbar = addToolBar(tr("Sessions"));
    toolbar->addAction(m_evictAction);
    toolbar->addAction(m_refreshAction);
    m_sessionView->addAction(m_evictAction);

    m_status = new QLabel(this);
    statusBar()->addWidget(m_status, 1);

    m_timer->setInterval(2000);
    connect(m_timer, &QTimer::timeout, this, &ClusterWindow::refresh);
    connect(m_fleet, &AdminFleet::settled, this, &ClusterWindow::refresh);
    connect(m_sessionView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &ClusterWindow::updateActions);
    updateActions();
}

ClusterWindow::~ClusterWindow()
{
    // The fleet fails its pending requests as it goes, and their callbacks
    // reach into this window: it goes first, while the window is whole
    // (QWidget would delete it only after this class is gone), and the
    // callbacks see m_closing.
    m_closing = true;
    m_timer->stop();
    delete m_fleet;
    m_fleet = nullptr;
}

void ClusterWindow::setRefreshInterval(int ms)
{
    m_timer->setInterval(ms);
}

void ClusterWindow::connectTo(const QList<AdminTarget> &targets)
{
    m_fleet->connectTo(targets);
    m_timer->start();
}

QString ClusterWindow::statusText() const
{
    int reachable = 0;
    for (int i = 0; i < m_fleet->size(); ++i)
        reachable += m_fleet->state(i) == AdminFleet::MemberState::Connected ? 1 : 0;
    return tr("%1 of %2 brokers answering; %n session(s)", nullptr, m_sessions->rowCount())
        .arg(reachable)
        .arg(m_fleet->size());
}

void ClusterWindow::refresh()
{
    if (m_refreshing || !m_fleet->isSettled())
        return;
    m_refreshing = true;
    for (int i = 0; i < m_fleet->size(); ++i) {
        if (m_fleet->state(i) == AdminFleet::MemberState::Unreachable)
            m_fleet->reconnect(i); // answers from the next refresh on
    }
    // Both answers first, then both tables: they never disagree on screen.
    auto sessions = std::make_shared<std::optional<QList<FleetSession>>>();
    auto brokers = std::make_shared<std::optional<QList<BrokerStatus>>>();
    const auto apply = [this, sessions, brokers] {
        if (m_closing || !sessions->has_value() || !brokers->has_value())
            return;
        QList<BrokerTableModel::Unreachable> unreachable;
        for (int i = 0; i < m_fleet->size(); ++i) {
            if (m_fleet->state(i) != AdminFleet::MemberState::Connected)
                unreachable.append({m_fleet->brokerName(i), m_fleet->problem(i)});
        }
        m_sessions->setSessions(**sessions);
        m_brokers->setBrokers(**brokers, unreachable);
        m_status->setText(statusText());
        m_refreshing = false;
        updateActions();
        Q_EMIT refreshed();
    };
    m_fleet->listSessions([sessions, apply](const QList<FleetSession> &rows, const QStringList &) {
        *sessions = rows;
        apply();
    });
    m_fleet->listBrokers([brokers, apply](const QList<BrokerStatus> &rows, const QStringList &) {
        *brokers = rows;
        apply();
    });
}

void ClusterWindow::evictSelected()
{
    QList<std::pair<int, QString>> targets;
    QStringList names;
    const QModelIndexList rows = m_sessionView->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows) {
        const FleetSession &row = m_sessions->sessionAt(index.row());
        targets.append({row.member, row.session.id});
        names.append(tr("%1 of %2 on %3")
                         .arg(SessionTableModel::shortId(row.session.id), row.session.user, row.broker));
    }
    if (targets.isEmpty())
        return;
    if (!m_confirm(this, tr("Evict sessions"),
                   tr("End %n session(s) and stop their MCP servers?", nullptr, int(targets.size())) +
                       QStringLiteral("\n\n") + names.join(QLatin1Char('\n'))))
        return;
    for (const auto &[member, id] : targets) {
        m_fleet->evictOn(member, id, [this](const EvictOutcome &, const QStringList &problems) {
            if (m_closing)
                return;
            if (!problems.isEmpty())
                m_status->setText(problems.join(QLatin1String("; ")));
            refresh();
        });
    }
}

void ClusterWindow::updateActions()
{
    m_evictAction->setEnabled(m_sessionView->selectionModel()->hasSelection());
}

} // namespace fmb

#include "ConnectDialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QRadioButton>
#include <QVBoxLayout>

#include "RecentTargets.h"
#include "admin/AdminPaths.h"

namespace fmb {
namespace {

constexpr int TargetRole = Qt::UserRole + 1;

} // namespace

ConnectDialog::ConnectDialog(const AdminTarget &current, QWidget *parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Connect to a Broker"));
    setMinimumWidth(520);

    m_localButton = new QRadioButton(tr("&Local admin socket"), this);
    m_socketEdit = new QLineEdit(this);
    m_socketEdit->setPlaceholderText(defaultAdminSocketPath());
    m_socketEdit->setToolTip(tr("Path of the broker's admin socket on this computer; empty for the default"));
    m_sshButton = new QRadioButton(tr("Through &SSH"), this);
    m_sshEdit = new QLineEdit(this);
    m_sshEdit->setPlaceholderText(tr("[user@]host[:/path/to/admin.sock]"));
    m_sshEdit->setToolTip(tr("Reaches the admin socket on another host with \"ssh -L\" (key or agent "
                             "authentication; extra options from FMB_SSH_OPTIONS)"));

    m_recent = new QListWidget(this);
    m_recent->setAlternatingRowColors(true);
    const QList<AdminTarget> recent = RecentTargets::load();
    for (const AdminTarget &target : recent) {
        auto *item = new QListWidgetItem(target.displayName(), m_recent);
        item->setData(TargetRole, target.toSettingsString());
    }
    auto *recentLabel = new QLabel(tr("&Recent brokers:"), this);
    recentLabel->setBuddy(m_recent);

    m_problem = new QLabel(this);
    m_problem->setStyleSheet(QStringLiteral("color: #b00020"));
    m_problem->setWordWrap(true);
    m_problem->hide();

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("&Connect"));

    auto *form = new QFormLayout;
    form->addRow(m_localButton, m_socketEdit);
    form->addRow(m_sshButton, m_sshEdit);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(recentLabel);
    layout->addWidget(m_recent, 1);
    layout->addWidget(m_problem);
    layout->addWidget(m_buttons);

    setTabOrder(m_localButton, m_socketEdit);
    setTabOrder(m_socketEdit, m_sshButton);
    setTabOrder(m_sshButton, m_sshEdit);
    setTabOrder(m_sshEdit, m_recent);
    setTabOrder(m_recent, m_buttons);

    connect(m_localButton, &QRadioButton::toggled, this, &ConnectDialog::updateEnabled);
    connect(m_sshButton, &QRadioButton::toggled, this, &ConnectDialog::updateEnabled);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &ConnectDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &ConnectDialog::reject);
    connect(m_recent, &QListWidget::currentItemChanged, this, [this](QListWidgetItem *item) {
        if (!item)
            return;
        const Result<AdminTarget> target = AdminTarget::fromSettingsString(item->data(TargetRole).toString());
        if (target)
            showTarget(target.value());
    });
    connect(m_recent, &QListWidget::itemActivated, this, [this] { accept(); });

    showTarget(current);
}

ConnectDialog::~ConnectDialog() = default;

void ConnectDialog::showTarget(const AdminTarget &target)
{
    if (target.kind == AdminTarget::Kind::Ssh) {
        m_sshButton->setChecked(true);
        m_sshEdit->setText(target.sshSpec());
    } else {
        m_localButton->setChecked(true);
        m_socketEdit->setText(target.socketPath == defaultAdminSocketPath() ? QString() : target.socketPath);
    }
    updateEnabled();
}

void ConnectDialog::updateEnabled()
{
    m_socketEdit->setEnabled(m_localButton->isChecked());
    m_sshEdit->setEnabled(m_sshButton->isChecked());
    m_problem->hide();
}

Result<AdminTarget> ConnectDialog::entered() const
{
    if (m_sshButton->isChecked()) {
        if (m_sshEdit->text().trimmed().isEmpty())
            return Error{ErrorCode::InvalidArgument, QString(), tr("Enter a host to reach through SSH.")};
        Result<AdminTarget> target = AdminTarget::fromSshSpec(m_sshEdit->text());
        if (!target)
            return Error{
                ErrorCode::InvalidArgument, QString(),
                tr("\"%1\" is not an SSH target: use [user@]host or host:/path/to/admin.sock; give a "
                   "port in FMB_SSH_OPTIONS (-p PORT).")
                    .arg(m_sshEdit->text().trimmed())};
        return target;
    }
    const QString path = m_socketEdit->text().trimmed();
    return AdminTarget::local(path.isEmpty() ? defaultAdminSocketPath() : path);
}

void ConnectDialog::accept()
{
    const Result<AdminTarget> target = entered();
    if (!target) {
        m_problem->setText(target.error().message);
        m_problem->show();
        return;
    }
    m_target = target.value();
    QDialog::accept();
}

} // namespace fmb

package huiyan

// Role is a staff member's role at the branch.
type Role string

// Roles (DESIGN.md, "PAD login").
const (
	RoleLobby      Role = "lobby"      // 大堂经理
	RoleWealth     Role = "wealth"     // 理财经理
	RoleAccount    Role = "account"    // 客户经理
	RoleSupervisor Role = "supervisor" // 网点负责人
)

// Roles lists every role.
var Roles = []Role{RoleLobby, RoleWealth, RoleAccount, RoleSupervisor}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleLobby || r == RoleWealth || r == RoleAccount || r == RoleSupervisor
}

// Staff is one member of a branch's staff roster. PINHash is a slow hash
// (never the PIN); DisplayName is what colleagues see on the PAD.
type Staff struct {
	ID          string
	Branch      string
	Role        Role
	DisplayName string
	PINHash     string
}

// ProfileTag is a tag as a profile shows it.
type ProfileTag struct {
	Code     string
	NameZH   string
	NameEN   string
	Kind     TagKind
	Priority int
}

// Profile is the instant profile a PAD shows for a visit: masked, and only
// what the job needs. A new face has an empty CustomerID and DisplayName.
type Profile struct {
	CustomerID    string
	DisplayName   string
	Tier          Tier
	Tags          []ProfileTag // by priority, most important first
	MBankStatus   MBankStatus
	MBankIdleDays int
	Lifecycle     Lifecycle
	Maturities    []Maturity
	OptOut        bool
	// Manager is the assigned account manager's staff id. It routes the
	// profile and sets YourCustomer; the PAD wire shows only the flag.
	Manager string
	// YourCustomer is set in the copy sent to the customer's assigned
	// account manager.
	YourCustomer bool
}

// NewFace reports whether the profile is of an unknown customer.
func (p *Profile) NewFace() bool { return p.CustomerID == "" }

// Action is a suggested next step for staff, with the talk track to use.
type Action struct {
	Code     string // stable rule code, e.g. "guide_ecode_scan"
	Title    string
	Script   string // the talk track
	Role     Role   // who should act
	Priority int    // lower first
	Reason   string // why the rule fired, in words staff understand
}

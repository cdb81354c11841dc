package gate

import (
	"strings"

	"github.com/hearthiot/hearth/store"
)

// A customer principal may only name its own customer; another customer's
// reads like one that does not exist. Visibility is decided before the
// role, so that a refusal never tells a customer that another exists.

// visibleCustomer refuses a customer name p may not see.
func (s Scope) visibleCustomer(name string) error {
	if err := s.check(); err != nil {
		return err
	}
	// An empty name would mean "every customer" to the store.
	if name == "" || !s.p.Operator() && s.p.Customer != name {
		return NotFound("customer")
	}
	return nil
}

// Customers returns the customers p may see: all for an operator, its own
// for a customer.
func (s Scope) Customers() ([]store.Customer, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.p.Operator() {
		return s.g.store.ListCustomers()
	}
	c, err := s.g.store.GetCustomer(s.p.Customer)
	if err != nil {
		return nil, err
	}
	return []store.Customer{c}, nil
}

// Customer returns a customer p may see.
func (s Scope) Customer(name string) (store.Customer, error) {
	if err := s.visibleCustomer(name); err != nil {
		return store.Customer{}, err
	}
	return s.g.store.GetCustomer(name)
}

// nameRule is what a new record's name may be, for messages.
const nameRule = "letters, digits, '.', '_' and '-' are accepted"

// CreateCustomer stores a new customer, with its default site, and returns
// it as stored.
func (s Scope) CreateCustomer(name, displayName string) (store.Customer, error) {
	if err := s.operatorOnly("creating customers"); err != nil {
		return store.Customer{}, err
	}
	if strings.TrimSpace(name) == "" {
		return store.Customer{}, Invalid(`field "name": required; %s`, nameRule)
	}
	return s.g.registry.CreateCustomer(store.Customer{Name: name, DisplayName: displayName, CreatedAt: s.g.now().UTC()})
}

// SetCustomerDisplayName changes the name a customer is shown by.
func (s Scope) SetCustomerDisplayName(name, display string) (store.Customer, error) {
	if err := s.visibleCustomer(name); err != nil {
		return store.Customer{}, err
	}
	if err := s.operatorOnly("renaming customers"); err != nil {
		return store.Customer{}, err
	}
	return s.g.registry.SetCustomerDisplayName(name, display)
}

// DeleteCustomer deletes a customer and its sites. The store refuses, with
// a message saying why, while devices, users or API tokens belong to it.
func (s Scope) DeleteCustomer(name string) error {
	if err := s.visibleCustomer(name); err != nil {
		return err
	}
	if err := s.operatorOnly("deleting customers"); err != nil {
		return err
	}
	return s.g.store.DeleteCustomer(name)
}

// Sites returns the sites of a customer p may see; "" lists every
// customer's for an operator, and the own customer's for a customer.
func (s Scope) Sites(customer string) ([]store.Site, error) {
	f, err := s.deviceFilter(customer, "")
	if err != nil {
		return nil, err
	}
	return s.g.store.ListSites(f.Customer)
}

// CreateSite stores a new site of an existing customer and returns it as
// stored.
func (s Scope) CreateSite(customer, name, displayName string) (store.Site, error) {
	if err := s.visibleCustomer(customer); err != nil {
		return store.Site{}, err
	}
	if err := s.operatorOnly("creating sites"); err != nil {
		return store.Site{}, err
	}
	if strings.TrimSpace(name) == "" {
		return store.Site{}, Invalid(`field "name": required; %s`, nameRule)
	}
	return s.g.registry.CreateSite(store.Site{Customer: customer, Name: name, DisplayName: displayName, CreatedAt: s.g.now().UTC()})
}

// SetSiteDisplayName changes the name a site is shown by.
func (s Scope) SetSiteDisplayName(customer, name, display string) (store.Site, error) {
	if err := s.visibleCustomer(customer); err != nil {
		return store.Site{}, err
	}
	if err := s.operatorOnly("renaming sites"); err != nil {
		return store.Site{}, err
	}
	return s.g.registry.SetSiteDisplayName(customer, name, display)
}

// DeleteSite deletes a site. The store refuses while the site has devices,
// and for the customer's default site.
func (s Scope) DeleteSite(customer, name string) error {
	if err := s.visibleCustomer(customer); err != nil {
		return err
	}
	if err := s.operatorOnly("deleting sites"); err != nil {
		return err
	}
	return s.g.store.DeleteSite(customer, name)
}

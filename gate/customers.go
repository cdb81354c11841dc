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

// Site returns one site p may see.
func (s Scope) Site(customer, name string) (store.Site, error) {
	if err := s.visibleCustomer(customer); err != nil {
		return store.Site{}, err
	}
	return s.g.store.GetSite(customer, name)
}

// CreateSite stores a new site of an existing customer (site.Customer)
// and returns it as stored.
func (s Scope) CreateSite(site store.Site) (store.Site, error) {
	if err := s.visibleCustomer(site.Customer); err != nil {
		return store.Site{}, err
	}
	if err := s.operatorOnly("creating sites"); err != nil {
		return store.Site{}, err
	}
	if strings.TrimSpace(site.Name) == "" {
		return store.Site{}, Invalid(`field "name": required; %s`, nameRule)
	}
	if err := checkTimeZone(site.TimeZone); err != nil {
		return store.Site{}, err
	}
	site.CreatedAt = s.g.now().UTC()
	return s.g.registry.CreateSite(site)
}

// UpdateSite changes a site's display name, address or time zone; the
// fields left nil stay.
func (s Scope) UpdateSite(customer, name string, change store.SiteChange) (store.Site, error) {
	if err := s.visibleCustomer(customer); err != nil {
		return store.Site{}, err
	}
	if err := s.operatorOnly("changing sites"); err != nil {
		return store.Site{}, err
	}
	if change.DisplayName == nil && change.Address == nil && change.TimeZone == nil {
		return store.Site{}, Invalid(`nothing to change: give "display_name", "address" or "time_zone"`)
	}
	if change.TimeZone != nil {
		if err := checkTimeZone(*change.TimeZone); err != nil {
			return store.Site{}, err
		}
	}
	return s.g.registry.UpdateSite(customer, name, change)
}

// checkTimeZone refuses a time zone the zone database does not know,
// naming the field.
func checkTimeZone(zone string) error {
	if store.CheckTimeZone(zone) != nil {
		return Invalid(`field "time_zone": %.64q is not an IANA time zone name such as "Asia/Tokyo" or "UTC"; empty uses the server's zone`, zone)
	}
	return nil
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

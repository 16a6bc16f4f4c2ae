"""Table rules: what the synchronization does for particular pairs of tables beyond the field mappings (BC: codeunit
5341 "CRM Int. Table. Subscriber" and the subscribers of codeunit 5340 "CRM Integration Table Synch.").

* :mod:`.registry` — the registry keyed by (BC table, Dataverse table, direction) and :func:`.registry.rule_for`;
* :mod:`.base` — the hooks a rule may implement (:class:`.base.TableRule`);
* :mod:`.products` — products and prices; :mod:`.units` — units of measure and unit groups; :mod:`.currencies` —
  currencies; :mod:`.contacts` — contacts and accounts; :mod:`.documents` — opportunities, invoices and document
  lines; :mod:`.sales_orders` — sales orders and their lines; :mod:`.salespeople` — salespeople and record owners.
"""

-- EthoJoint creates one database per schema (prefix ethojoint_ by default).
GRANT ALL PRIVILEGES ON `ethojoint\_%`.* TO 'ethojoint'@'%';
FLUSH PRIVILEGES;

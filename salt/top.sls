base:
  '*':
    - assist
